import { readFileSync } from 'node:fs';
import tls from 'node:tls';

let extra: string | null | undefined;

/**
 * The PEM bundle NODE_EXTRA_CA_CERTS names, read on first TLS use. bin/stratum hands the variable over as
 * STRATUM_EXTRA_CA_CERTS so that Node does not parse every certificate in it at each start (36 ms of a 90 ms
 * no-op build where it names the system bundle); when Node did load it, it is read again only to go with a
 * custom CA, since an explicit `ca` replaces Node's default store, extras included.
 */
function extraCerts(forCustomCa: boolean): string | null {
  const deferred = process.env.STRATUM_EXTRA_CA_CERTS;
  const loadedByNode = process.env.NODE_EXTRA_CA_CERTS;
  const file = deferred || (forCustomCa ? loadedByNode : undefined);
  if (!file) return null;
  if (extra === undefined) {
    try {
      extra = readFileSync(file, 'utf8');
    } catch (e) {
      // Node's own behaviour for an unreadable NODE_EXTRA_CA_CERTS: warn and go on with the default roots.
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
      extra = null;
    }
  }
  return extra;
}

/**
 * The `ca` option for a TLS client: undefined keeps Node's default store; otherwise Node's bundled roots, the
 * extra certificates and `custom`, so a custom CA only ever adds trust.
 */
export function trustedCAs(custom: (string | Buffer)[] = []): (string | Buffer)[] | undefined {
  const more = extraCerts(custom.length > 0);
  if (!more && custom.length === 0) return undefined;
  return [...tls.rootCertificates, ...(more ? [more] : []), ...custom];
}
