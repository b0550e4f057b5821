import type { Command } from 'commander';
import { collect, createRegistryClient, pinFile, type RegistryFlags } from '../../registry/index.js';

export function register(program: Command): void {
  program
    .command('pin')
    .description('Pin image references to name:tag@sha256:digest, asking the registries: YAML vars files, Dockerfiles, bake files')
    .argument('<files...>', 'files to rewrite in place (Dockerfile*, *.dockerfile, *.hcl; anything else is read as YAML)')
    .option('--check', 'change nothing; report references whose pinned digest differs from the registry (exit 1 on drift)')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable; also STRATUM_INSECURE_REGISTRIES)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable)', collect)
    .addHelpText(
      'after',
      `
YAML: a value is an image reference when it has a registry host (host.tld/..., host:port/...,
localhost/...) and a tag, or a tag under a key whose name contains "image".
Dockerfile: every FROM that names a tagged image literally (not a stage or scratch), and the default
of an ARG that a FROM uses as its whole image (ARG BASE_IMAGE=ubuntu:24.04 ... FROM \${BASE_IMAGE}).
Bake file: the default of each variable whose value is an image reference by the YAML rule, with the
variable's name as the key (UBUNTU_IMAGE = "docker.io/library/ubuntu:24.04").
Templated values ({{ }}, \${}) are left alone. Already-pinned references are resolved again from their
tag. Only the references change: comments, quoting, order and blank lines stay as they were.
Exit codes: 0 done (or no drift), 1 drift found with --check or a registry failed, 2 bad input.`,
    )
    .action(async (files: string[], flags: RegistryFlags & { check?: boolean }) => {
      const client = createRegistryClient(undefined, flags);
      const cache = new Map<string, Promise<string>>();
      const resolve = (ref: { registry: string; repository: string; tag?: string }) => {
        const key = `${ref.registry}/${ref.repository}:${ref.tag}`;
        let p = cache.get(key);
        if (!p) {
          p = client.resolveDigest(ref).then((d) => d.digest);
          cache.set(key, p);
        }
        return p;
      };
      let drift = 0;
      try {
        for (const file of files) {
          const res = await pinFile(file, resolve, { check: !!flags.check });
          for (const c of res.changes) {
            process.stdout.write(`${c.file}:${c.line}: ${c.key ? `${c.key}: ` : ''}${c.from} -> ${c.to}\n`);
          }
          drift += res.changes.length;
          if (!flags.check) process.stderr.write(`${file}: ${res.changes.length} of ${res.found} image references updated\n`);
        }
      } finally {
        client.close();
      }
      if (flags.check && drift > 0) {
        process.stderr.write(`${drift} reference(s) not pinned to the current digest\n`);
        process.exitCode = 1;
      }
    });
}
