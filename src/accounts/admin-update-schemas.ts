// The admin updates' input as the HTTP API and the CLI validate it (and OpenAPI describes it).
// The workflow checks the same limits itself, without zod (see src/workflows/admin-input.ts).
import { z } from 'zod';
import { ADMIN_INPUT_LIMITS } from '../workflows/admin-input.js';
import { text } from '../platform/text.js';

const limits = ADMIN_INPUT_LIMITS;

const actorAndReason = {
  actor: text(1, limits.actorMaxLength).describe('who does it'),
  reason: text(limits.reasonMinLength, limits.reasonMaxLength).describe('why (for the audit log)'),
};

export const adminInputSchema = z.object(actorAndReason).strict();
export const extendGraceInputSchema = z
  .object({
    ...actorAndReason,
    hours: z.number().positive('hours must be > 0').max(limits.maxGraceHours, 'at most 90 days'),
  })
  .strict();
