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
