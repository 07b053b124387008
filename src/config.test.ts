import { describe, expect, it } from 'vitest';
import { ConfigError, isAddressOrCidr, loadConfig } from './config.ts';

describe('collect settings', () => {
  it('defaults: collection on, no trusted proxy, 20 requests/s per address, 5000 events/s per app', () => {
    expect(loadConfig({})).toMatchObject({ collect: true, trustedProxies: [], collectIpRate: 20, collectAppRate: 5000 });
  });

  it('reads DATACUBE_TRUSTED_PROXIES as a list of addresses and CIDRs, and refuses anything else', () => {
    expect(loadConfig({ DATACUBE_TRUSTED_PROXIES: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,' }).trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', 'proxy.local', '1.2.3.4/8/1', '::1/129', '10.0.0.0/x']) {
      expect(() => loadConfig({ DATACUBE_TRUSTED_PROXIES: bad }), bad).toThrow(ConfigError);
    }
    expect(isAddressOrCidr('::1')).toBe(true);
    expect(() => loadConfig({ DATACUBE_TRUSTED_PROXIES: 'nope' })).toThrow(/DATACUBE_TRUSTED_PROXIES/);
  });

  it('reads DATACUBE_COLLECT and the rates', () => {
    expect(loadConfig({ DATACUBE_COLLECT: 'off', DATACUBE_COLLECT_IP_RATE: '2.5', DATACUBE_COLLECT_APP_RATE: '100' })).toMatchObject({
      collect: false,
      collectIpRate: 2.5,
      collectAppRate: 100,
    });
    expect(() => loadConfig({ DATACUBE_COLLECT: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATACUBE_COLLECT_IP_RATE: '0' })).toThrow(ConfigError);
  });
});

describe('loadConfig: dashboard and proxy settings', () => {
  it('has defaults: dashboard on, 12 h sessions idle after 2 h, 10 failed sign-ins, no trusted proxy', () => {
    const c = loadConfig({});
    expect(c.dashboard).toBe(true);
    expect(c.sessionTtlSeconds).toBe(43_200);
    expect(c.sessionIdleSeconds).toBe(7200);
    expect(c.signInFailures).toBe(10);
    expect(c.trustedProxies).toEqual([]);
  });

  it('reads trusted proxies as addresses and CIDR ranges and refuses anything else', () => {
    expect(loadConfig({ DATACUBE_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1 ,fd00::/8' }).trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '::1/129', '10.0.0.0/x']) {
      expect(() => loadConfig({ DATACUBE_TRUSTED_PROXIES: bad }), bad).toThrow(ConfigError);
    }
  });

  it('turns the dashboard off and validates session settings', () => {
    expect(loadConfig({ DATACUBE_DASHBOARD: 'off' }).dashboard).toBe(false);
    expect(() => loadConfig({ DATACUBE_DASHBOARD: 'no' })).toThrow(/DATACUBE_DASHBOARD/);
    expect(() => loadConfig({ DATACUBE_SESSION_TTL: '10' })).toThrow(/DATACUBE_SESSION_TTL/);
    expect(loadConfig({ DATACUBE_SESSION_IDLE: '600', DATACUBE_SIGNIN_FAILURES: '3' })).toMatchObject({ sessionIdleSeconds: 600, signInFailures: 3 });
  });
});

describe('loadConfig: messages', () => {
  it('says what each bad variable must be, with the value given', () => {
    const message = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(message({ DATACUBE_PORT: 'abc' })).toBe('bad configuration: DATACUBE_PORT: must be a number (got "abc")');
    expect(message({ DATACUBE_PORT: '1.5' })).toBe('bad configuration: DATACUBE_PORT: must be a whole number (got "1.5")');
    expect(message({ DATACUBE_PORT: '70000' })).toBe('bad configuration: DATACUBE_PORT: must be at most 65535 (got "70000")');
    expect(message({ DATACUBE_DAILY_QUOTA: '0' })).toBe('bad configuration: DATACUBE_DAILY_QUOTA: must be at least 1 (got "0")');
    expect(message({ DATACUBE_COLLECT_IP_RATE: 'fast' })).toBe('bad configuration: DATACUBE_COLLECT_IP_RATE: must be a number (got "fast")');
    expect(message({ DATACUBE_LOG_FORMAT: 'xml' })).toBe('bad configuration: DATACUBE_LOG_FORMAT: must be one of auto, pretty, json (got "xml")');
    expect(message({ DATACUBE_MASTER_KEY: 'not-hex-but-secret' })).toBe('bad configuration: DATACUBE_MASTER_KEY: must be 64 hex characters');
    // A message written in the schema stays.
    expect(message({ DATACUBE_TOKEN_TTL: '300' })).toBe(
      'bad configuration: DATACUBE_TOKEN_TTL: must be more than 300 seconds (a replaced token keeps working 5 minutes) (got "300")',
    );
    expect(message({ DATACUBE_PORT: 'x', DATACUBE_LOG_LEVEL: 'loud' })).toMatch(/DATACUBE_PORT: must be a number \(got "x"\); DATACUBE_LOG_LEVEL: must be one of fatal, error/);
  });
});

describe('loadConfig: empty variables', () => {
  it('reads a variable set to nothing as not set (its default), not as 0 or an empty value', () => {
    const c = loadConfig({ DATACUBE_PORT: '', DATACUBE_DAILY_QUOTA: '', DATACUBE_LOG_LEVEL: '', DATACUBE_TRUSTED_PROXIES: '' });
    const d = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.dailyQuota).toBe(d.dailyQuota);
    expect(c.logLevel).toBe(d.logLevel);
    expect(c.trustedProxies).toEqual(d.trustedProxies);
  });
});
