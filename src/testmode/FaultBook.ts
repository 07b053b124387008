import { z } from 'zod';
import { errmsgOf } from '../domain/errors.ts';
import { mix, mulberry32, type Rng } from '../demo/prng.ts';

/**
 * Test mode's programmable faults: rules that make the next matching calls answer an errcode, an HTTP status, or
 * late. Pure bookkeeping (no HTTP): the server asks `match()` on each call and acts on the answer.
 *
 * A rule names the route it applies to:
 * - `token` (GET /cgi-bin/token), `stable_token` (POST /cgi-bin/stable_token), `events` (POST /v1/events),
 *   `collect` (POST /v1/collect, the mini-program tracker's way in);
 * - an analysis API, by its cloud-call name (`analysis.getUserPortrait`), the name without its namespace
 *   (`getUserPortrait`) or its HTTPS path (`getweanalysisappiduserportrait`): the HTTPS call of that API and its
 *   cloud call through /tcb;
 * - `tcb`: every cloud call through /tcb, whatever the API.
 * Rules are tried in the order they were added; the first one that matches and has calls left fires.
 */

/** A call the server is about to answer, as the fault rules see it. */
export interface FaultCall {
  route: 'token' | 'stable_token' | 'events' | 'collect' | 'api' | 'tcb';
  /** For `api` and `tcb`: the cloud-call name of the API (`analysis.getUserPortrait`). */
  api?: string;
  /** The app making the call, when known (from the query, the body, the token or the cloud env). */
  appid?: string;
}

/** What a fired rule asks for. */
export interface Fault {
  ruleId: number;
  /** Wait this long (real time) before answering; 0 for none. */
  delayMs: number;
  /** Answer with this errcode (and errmsg); with only a delay, neither this nor httpStatus is set. */
  errcode?: number;
  errmsg?: string;
  /** Answer with this HTTP status. */
  httpStatus?: number;
}

/** The most rules kept at once (each POST adds; DELETE clears). */
export const MAX_FAULT_RULES = 1000;
/** The longest delay a rule may ask for. */
export const MAX_FAULT_DELAY_MS = 600_000;

const FIXED_ROUTES = ['token', 'stable_token', 'events', 'collect', 'tcb'] as const;

const ruleSchema = z
  .strictObject({
    route: z.string().min(1).max(200),
    appid: z.string().min(1).max(128).optional(),
    errcode: z.number().int().min(-2_147_483_648).max(2_147_483_647).optional(),
    errmsg: z.string().min(1).max(512).optional(),
    httpStatus: z.number().int().min(200).max(599).optional(),
    delayMs: z.number().int().min(0).max(MAX_FAULT_DELAY_MS).optional(),
    times: z.number().int().min(1).max(1_000_000_000).optional(),
    ratio: z.number().gt(0).max(1).optional(),
  })
  .refine((r) => r.errcode !== undefined || r.httpStatus !== undefined || (r.delayMs ?? 0) > 0, {
    message: 'a rule needs errcode, httpStatus or delayMs (what should happen?)',
  })
  .refine((r) => r.errcode !== 0, { message: 'errcode 0 is success, not a fault' })
  .refine((r) => r.errmsg === undefined || r.errcode !== undefined, { message: 'errmsg needs an errcode' });

export type FaultRuleInput = z.infer<typeof ruleSchema>;

/** A rule as listed: what was asked, plus its id and how often it matched and fired. */
export interface FaultRule extends FaultRuleInput {
  id: number;
  /** Calls it fired on (answered with its fault). */
  fired: number;
  /** Calls that matched it (route and appid), fired or not (a `ratio` rule lets some pass; a spent rule lets all pass). */
  matched: number;
}

/** A rule that cannot be used; the message names the rule (by position) and what is wrong. */
export class FaultRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultRuleError';
  }
}

interface Entry {
  rule: FaultRule;
  /** Fixed route, or `api:<name>` for an analysis API. */
  target: string;
  rng: Rng;
}

export interface FaultBookOptions {
  /**
   * The analysis APIs the server answers: `name` is the cloud-call name, `path` the HTTPS path. Read on every
   * `add`, so it is the server's open-API table itself.
   */
  apis: readonly { readonly name: string; readonly path: string }[];
  /** Seeds the draws of `ratio` rules (with the rule's id): the same calls fire on every run. */
  seed?: number;
}

export class FaultBook {
  private entries: Entry[] = [];
  private nextId = 1;

  constructor(private readonly opts: FaultBookOptions) {}

  /** Route names a rule may use (for messages and help). */
  routeNames(): string[] {
    return [...FIXED_ROUTES, ...this.opts.apis.map((a) => a.name)];
  }

  /** The target of a rule's `route`, or an error message. */
  private targetOf(route: string): string {
    if ((FIXED_ROUTES as readonly string[]).includes(route)) return route;
    const exact = this.opts.apis.find((a) => a.name === route || a.path === route);
    if (exact) return `api:${exact.name}`;
    const short = this.opts.apis.filter((a) => a.name.slice(a.name.lastIndexOf('.') + 1) === route);
    if (short.length === 1 && short[0]) return `api:${short[0].name}`;
    if (short.length > 1) throw new FaultRuleError(`route "${route}" names several APIs (${short.map((a) => a.name).join(', ')}); use the full name`);
    throw new FaultRuleError(`unknown route "${route.slice(0, 100)}"; use one of ${this.routeNames().join(', ')}`);
  }

  /**
   * Validates `input` (one rule, a list of rules, or `{ rules: [...] }`) and adds the rules, all or none.
   * Returns the added rules.
   */
  add(input: unknown): FaultRule[] {
    const list = Array.isArray(input)
      ? input
      : input !== null && typeof input === 'object' && 'rules' in input && Object.keys(input).length === 1
        ? (input as { rules: unknown }).rules
        : [input];
    if (!Array.isArray(list)) throw new FaultRuleError('"rules" must be a list of rules');
    if (list.length === 0) throw new FaultRuleError('no rules given');
    if (this.entries.length + list.length > MAX_FAULT_RULES) {
      throw new FaultRuleError(`at most ${MAX_FAULT_RULES} rules at once (DELETE /__datacube/faults clears them)`);
    }
    const prepared: { input: FaultRuleInput; target: string }[] = list.map((raw, i) => {
      const where = list.length > 1 ? `rule ${i + 1}: ` : '';
      const parsed = ruleSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        throw new FaultRuleError(`${where}${path}${issue?.message ?? 'not a rule'}`);
      }
      const r = parsed.data;
      if (r.errcode !== undefined && r.errmsg === undefined && errmsgOf(r.errcode) === undefined) {
        throw new FaultRuleError(`${where}errcode ${r.errcode} has no WeChat text in datacube's table; give its errmsg too`);
      }
      try {
        return { input: r, target: this.targetOf(r.route) };
      } catch (e) {
        throw new FaultRuleError(`${where}${(e as Error).message}`);
      }
    });
    return prepared.map(({ input: r, target }) => {
      const id = this.nextId++;
      const rule: FaultRule = { id, ...r, fired: 0, matched: 0 };
      this.entries.push({ rule, target, rng: mulberry32(mix(this.opts.seed ?? 0, id)) });
      return { ...rule };
    });
  }

  list(): FaultRule[] {
    return this.entries.map((e) => ({ ...e.rule }));
  }

  /** Removes every rule (or the one with `id`); returns how many were removed. */
  clear(id?: number): number {
    const before = this.entries.length;
    this.entries = id === undefined ? [] : this.entries.filter((e) => e.rule.id !== id);
    return before - this.entries.length;
  }

  /** True while any rule exists (a cheap test before working out a call's appid). */
  get active(): boolean {
    return this.entries.length > 0;
  }

  /** Whether some rule with calls left could apply to `route`/`api` if the appid matched (so the appid is worth finding). */
  wantsAppid(call: Omit<FaultCall, 'appid'>): boolean {
    return this.entries.some((e) => e.rule.appid !== undefined && this.applies(e, call) && !spent(e.rule));
  }

  private applies(e: Entry, call: Omit<FaultCall, 'appid'>): boolean {
    switch (call.route) {
      case 'api':
        return e.target === `api:${call.api ?? ''}`;
      case 'tcb':
        return e.target === 'tcb' || e.target === `api:${call.api ?? ''}`;
      default:
        return e.target === call.route;
    }
  }

  /** The fault for this call, if a rule fires (counted at once, so concurrent calls fire exactly `times` in all). */
  match(call: FaultCall): Fault | undefined {
    for (const e of this.entries) {
      const r = e.rule;
      if (!this.applies(e, call)) continue;
      if (r.appid !== undefined && r.appid !== call.appid) continue;
      r.matched++;
      if (spent(r)) continue;
      if (r.ratio !== undefined && r.ratio < 1 && e.rng() >= r.ratio) continue;
      r.fired++;
      const f: Fault = { ruleId: r.id, delayMs: r.delayMs ?? 0 };
      if (r.errcode !== undefined) {
        f.errcode = r.errcode;
        f.errmsg = r.errmsg ?? errmsgOf(r.errcode) ?? 'system error';
      } else if (r.httpStatus !== undefined) {
        // A bare HTTP status still carries WeChat's body for an internal failure.
        f.errcode = -1;
        f.errmsg = errmsgOf(-1) ?? 'system error';
      }
      if (r.httpStatus !== undefined) f.httpStatus = r.httpStatus;
      return f;
    }
    return undefined;
  }
}

function spent(r: FaultRule): boolean {
  return r.times !== undefined && r.fired >= r.times;
}
