// Kill points for the fault suite's worker. The worker process (worker-process.ts, with
// FAULTS_TRIPWIRE_URL set) asks the test, over HTTP, whether to go on at three points of every
// activity attempt: `start` (before its first line), `provider` (a provider has done what it was
// asked, email sent, post made, server stopped or started, and answered; our code has not
// recorded it yet) and `end` (the activity is done; Temporal has not heard). The test answers
// "go on", or holds the answer and kills the worker with SIGKILL: the kill lands exactly there.
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { Context } from '@temporalio/activity';
import { type ActivityDeps } from '../../../src/activities/index.js';

/**
 * `sending` is a Discord digest's: every row of the message marked in flight, the request not
 * yet made.
 */
export type KillPoint = 'start' | 'sending' | 'provider' | 'end';

export interface Trip {
  point: KillPoint;
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
  taskQueue: string;
  /** A Discord digest's points: how many rows its message carries. */
  rows?: number;
  /** The worker process that reported it. */
  pid: number;
}

// ---- worker side --------------------------------------------------------------------------------

async function trip(url: string, point: KillPoint, rows?: number): Promise<void> {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return; // not inside an activity
  }
  const body: Trip = {
    point,
    workflowId: info.workflowExecution?.workflowId ?? '?',
    activityId: info.activityId,
    activityType: info.activityType,
    attempt: info.attempt,
    taskQueue: info.taskQueue,
    ...(rows !== undefined ? { rows } : {}),
    pid: process.pid,
  };
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
}

/** The providers' effects, each followed by the `provider` point. */
export function providersWithTripwire(
  deps: Pick<ActivityDeps, 'email' | 'chat' | 'servers'>,
  url: string,
): Pick<ActivityDeps, 'email' | 'chat' | 'servers'> {
  const after =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await call(...args);
      await trip(url, 'provider');
      return result;
    };
  return {
    email: { kind: deps.email.kind, send: after(deps.email.send.bind(deps.email)) },
    chat: {
      kind: deps.chat.kind,
      post: after(deps.chat.post.bind(deps.chat)),
      ...(deps.chat.postMany ? { postMany: digestPoints(deps.chat.postMany.bind(deps.chat), url) } : {}),
    },
    servers: {
      kind: deps.servers.kind,
      status: deps.servers.status.bind(deps.servers),
      shutdown: after(deps.servers.shutdown.bind(deps.servers)),
      start: after(deps.servers.start.bind(deps.servers)),
    },
  };
}

/** A digest's message: `sending` once its rows are marked, `provider` once Discord answered. */
function digestPoints(
  postMany: NonNullable<ActivityDeps['chat']['postMany']>,
  url: string,
): NonNullable<ActivityDeps['chat']['postMany']> {
  return async (channel, messages, options) => {
    const result = await postMany(channel, messages, {
      beforeRequest: async () => {
        await options?.beforeRequest?.();
        await trip(url, 'sending', messages.length);
      },
    });
    await trip(url, 'provider', messages.length);
    return result;
  };
}

/** Every activity with the `start` and `end` points around it. */
export function activitiesWithTripwire<T extends object>(activities: T, url: string): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        await trip(url, 'start');
        const result: unknown = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        await trip(url, 'end');
        return result;
      },
    ]),
  ) as T;
}

// ---- test side ----------------------------------------------------------------------------------

export interface TripwireController {
  url: string;
  /** Every trip the worker reported, in order (the held ones included). */
  trips: Trip[];
  close(): Promise<void>;
}

/**
 * Answers each trip with `decide`: `go` answers at once; `kill` leaves the request unanswered
 * (the activity waits right there) and, after `gatherMs` in which other trips that `decide`
 * would kill are held too (other ladders reaching other points), runs `kill` with every trip
 * held: it stops the worker, so each of them is killed at its point, and starts the next worker.
 * Trips that arrive while the worker is being replaced wait for the next one's turn.
 */
export async function startTripwireController(
  decide: (trip: Trip) => 'go' | 'kill',
  kill: (victims: Trip[]) => Promise<void>,
  gatherMs = 1500,
): Promise<TripwireController> {
  const trips: Trip[] = [];
  let phase: 'open' | 'gathering' | 'killing' = 'open';
  const held = new Map<http.ServerResponse, Trip>();
  const answer = (res: http.ServerResponse, t: Trip) => {
    if (phase === 'killing') {
      held.set(res, t);
      return;
    }
    if (decide(t) === 'go') {
      res.writeHead(204).end();
      return;
    }
    held.set(res, t);
    if (phase === 'gathering') return;
    phase = 'gathering';
    setTimeout(() => {
      phase = 'killing';
      const victims = [...held.values()];
      void kill(victims)
        .catch((error: unknown) => process.stderr.write(`[faults] kill failed: ${String(error)}\n`))
        .finally(() => {
          phase = 'open';
          const waiting = [...held];
          held.clear();
          for (const [r, other] of waiting) {
            // The killed worker's requests have no one to answer to; the next worker's are decided.
            if (victims.includes(other)) r.destroy();
            else answer(r, other);
          }
        });
    }, gatherMs);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Trip;
      trips.push(t);
      answer(res, t);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/trip`,
    trips,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
