import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

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
