import type { SegmentEvent } from '@kana/schemas';
import { MAX_EVENT_BYTES } from '../domain/normalize';
import { appUnderTest, basic, bearer, KEY } from '../testing/app-under-test';
import type { Route } from './arbitraries';

// Drives the gateway's HTTP app in process (light-my-request through the server's listener, in-memory ports) and
// checks what must hold for ANY input: no 5xx, a clean `{ message }` on every
// refusal, and the sink holding exactly what a 2xx said was accepted.

export type Auth = 'basic' | 'bearer';
export const authHeader = (auth: Auth) => (auth === 'basic' ? basic(KEY) : bearer(KEY));

// A stack frame or a path of ours in an answer would leak internals to senders.
const LEAKS = /\n\s+at |^\s+at |node_modules|\/work\/|\.(ts|js):\d+/m;

export interface Outcome {
  status: number;
  body: string;
  stored: SegmentEvent[];
}

export function harness() {
  const app = appUnderTest();
  return {
    app,
    /** POSTs `payload` as-is (text or bytes) with content-type application/json. */
    async post(route: Route | string, payload: string | Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
      app.sink.stored.length = 0;
      const response = await app.inject({ method: 'POST', url: route, payload, headers: { 'content-type': 'application/json', ...headers } });
      return { status: response.statusCode, body: response.body, stored: app.sink.events };
    },
  };
}

/** Fails (throws) when the answer breaks a rule that holds for every input. */
export function checkAnswer(outcome: Outcome, payloadText?: string): void {
  const { status, body, stored } = outcome;
  if (status >= 500) throw new Error(`answered ${status}: ${body.slice(0, 300)}`);
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error(`answer ${status} is not JSON: ${body.slice(0, 300)}`);
  }
  if (status < 200 || status >= 300) {
    if (typeof json?.message !== 'string' || json.message.trim() === '') throw new Error(`answer ${status} has no message: ${body.slice(0, 300)}`);
    if (LEAKS.test(json.message)) throw new Error(`answer ${status} leaks internals: ${json.message.slice(0, 300)}`);
    // A refusal names the field and the reason; echoing a sender's 400 KB back helps nobody.
    if (json.message.length > 1_000) throw new Error(`answer ${status} has a ${json.message.length}-character message: ${json.message.slice(0, 300)}`);
    if (stored.length !== 0) throw new Error(`answered ${status} but stored ${stored.length} event(s)`);
    return;
  }
  // What the gateway adds to an event (defaulted ids, timestamps, empty objects) is a few hundred bytes at most.
  for (const event of stored) {
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > MAX_EVENT_BYTES + 512) throw new Error(`stored an event of ${bytes} bytes, over the 32 KB per event limit`);
  }
  if (typeof json?.accepted === 'number') {
    if (stored.length !== json.accepted) throw new Error(`batch answer says ${json.accepted} accepted, sink holds ${stored.length}`);
    if (json.accepted === 0) throw new Error('a 2xx batch answer accepted nothing');
    for (const rejection of json.rejected) {
      if (typeof rejection.message !== 'string' || rejection.message.trim() === '' || LEAKS.test(rejection.message)) {
        throw new Error(`bad rejection entry ${JSON.stringify(rejection).slice(0, 300)}`);
      }
    }
    const sent = tryParse(payloadText);
    if (Array.isArray(sent?.batch) && sent.batch.length !== json.accepted + json.rejected.length) {
      throw new Error(`batch of ${sent.batch.length} answered ${json.accepted} accepted + ${json.rejected.length} rejected`);
    }
  } else if (stored.length !== 1) {
    throw new Error(`single-event answer ${status} but sink holds ${stored.length} events`);
  }
}

export function tryParse(text: string | undefined): any {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The request body for one event's JSON text on `route`. */
export function wrap(route: Route, eventText: string): string {
  return route === '/v1/batch' ? `{"batch":[${eventText}]}` : eventText;
}
