// The admin updates' input as the HTTP API and the CLI validate it (and OpenAPI describes it).
// The workflow checks the same limits itself, without zod (see src/workflows/admin-input.ts).
import { z } from 'zod';
import { ADMIN_INPUT_LIMITS } from '../workflows/admin-input.js';

const limits = ADMIN_INPUT_LIMITS;

const actorAndReason = {
  actor: z.string().trim().min(1, 'actor is required').max(limits.actorMaxLength),
  reason: z
    .string()
    .trim()
    .min(limits.reasonMinLength, `reason is required (at least ${limits.reasonMinLength} characters)`)
    .max(limits.reasonMaxLength),
};

export const adminInputSchema = z.object(actorAndReason).strict();
export const extendGraceInputSchema = z
  .object({
    ...actorAndReason,
    hours: z.number().positive('hours must be > 0').max(limits.maxGraceHours, 'at most 90 days'),
  })
  .strict();
