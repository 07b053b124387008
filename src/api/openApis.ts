import { ANALYSIS_APIS } from '../analysis/index.ts';
import type { Services } from '../services.ts';
import { WeChatError } from '../domain/errors.ts';

/**
 * WeChat's open APIs datacube answers, by the name the cloud call uses and the path the HTTPS call uses.
 * One table, shared by POST /datacube/<path> and POST /tcb, so both give the same answer.
 * `run` resolves to WeChat's JSON answer (UTF-8 bytes, so that a cached answer is sent without being encoded again), or
 * throws a WeChatError. `answerNow` is its synchronous fast path: the answer when it is cached and the call could be
 * counted against the quota without the store, else undefined (then `run`, which has counted nothing yet).
 */
export interface OpenApi {
  name: string;
  path: string;
  run(services: Services, appid: string, params: Record<string, unknown>): Promise<Buffer>;
  answerNow(services: Services, appid: string, params: Record<string, unknown>): Buffer | undefined;
}

function dateParam(params: Record<string, unknown>, key: string): string {
  const v = params[key];
  if (typeof v !== 'string') throw new WeChatError('DATA_FORMAT', `${key} is missing or not a string`);
  return v;
}

export const OPEN_APIS: readonly OpenApi[] = [
  {
    name: 'analysis.getUserPortrait',
    path: 'getweanalysisappiduserportrait',
    async run(s, appid, params) {
      const window = s.portrait.window(dateParam(params, 'begin_date'), dateParam(params, 'end_date'));
      await s.auth.charge(appid, 'getUserPortrait');
      return s.portrait.portraitJson(appid, window);
    },
    answerNow(s, appid, params) {
      const window = s.portrait.window(dateParam(params, 'begin_date'), dateParam(params, 'end_date'));
      const json = s.portrait.cachedJson(appid, window);
      return json && s.auth.chargeNow(appid, 'getUserPortrait') ? json : undefined;
    },
  },
  // The rest of the analysis family: daily summary, visit trends, distribution, pages, retention (src/analysis/).
  ...ANALYSIS_APIS.map(
    (api): OpenApi => ({
      name: `analysis.${api.name}`,
      path: api.path,
      async run(s, appid, params) {
        const period = s.analysis.period(api, dateParam(params, 'begin_date'), dateParam(params, 'end_date'));
        await s.auth.charge(appid, api.name);
        return s.analysis.answerJson(appid, api, period);
      },
      answerNow(s, appid, params) {
        const period = s.analysis.period(api, dateParam(params, 'begin_date'), dateParam(params, 'end_date'));
        const json = s.analysis.cachedJson(appid, api, period);
        return json && s.auth.chargeNow(appid, api.name) ? json : undefined;
      },
    }),
  ),
];

export const OPEN_API_BY_NAME = new Map(OPEN_APIS.map((a) => [a.name, a]));
export const OPEN_API_BY_PATH = new Map(OPEN_APIS.map((a) => [a.path, a]));
