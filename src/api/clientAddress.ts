import { BlockList, isIP } from 'node:net';
import { normalizeAddress } from '../ingest/index.ts';

/** The proxies whose `X-Forwarded-For` is believed (`DATACUBE_TRUSTED_PROXIES`: addresses or CIDRs). */
export function trustedProxies(list: readonly string[]): BlockList {
  const b = new BlockList();
  for (const entry of list) {
    const [addr = '', bits] = entry.split('/');
    const ip = normalizeAddress(addr);
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) b.addAddress(ip, type);
    else b.addSubnet(ip, Number(bits), type);
  }
  return b;
}

function trusted(proxies: BlockList, ip: string): boolean {
  const v = isIP(ip);
  return v !== 0 && proxies.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}

/** An `X-Forwarded-For` entry as an address: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:80`, `2001:db8::1`; else ''. */
function entryAddress(raw: string): string {
  let s = raw.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket?.[1]) s = bracket[1];
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  s = normalizeAddress(s);
  return isIP(s) === 0 ? '' : s;
}

/**
 * The client's address: the socket's peer, unless the peer is a trusted proxy; then `X-Forwarded-For` is read from
 * the right (the entry the nearest proxy added) past every trusted proxy, and the first address that is not one is
 * the client. An entry that is not an address stops the walk (the last address attributed so far is the client).
 * From an untrusted peer the header is ignored, whatever it says.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, proxies: BlockList): string {
  let client = normalizeAddress(peer ?? '');
  if (!forwardedFor || !trusted(proxies, client)) return client;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = entries.length - 1; i >= 0 && trusted(proxies, client); i--) {
    const next = entryAddress(entries[i] ?? '');
    if (next === '') break;
    client = next;
  }
  return client;
}
