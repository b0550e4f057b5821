/** Seeded input generators for the fuzz tests (a failure names its seed, so it reproduces). */

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'x y', '$A', '${A}', '${B:-d}', '${C:+p}', '${Z:?unset}', '${Z?gone}', '${A#a}', '${B%%x*}', '${A/a/b}', '"q"', "'s'", '"', "'", '\\', '\\$A', '${', '}', '=', '/p'];
export const INSTRUCTIONS = ['ARG K=W', 'ARG K', 'ENV K=W', 'ENV K W', 'LABEL K=W', 'COPY W W', 'ADD W /d/', 'WORKDIR W', 'USER W', 'EXPOSE W', 'STOPSIGNAL W', 'RUN W', 'CMD W', 'VOLUME W', 'FROM W AS s'];

/** A Dockerfile from a small grammar: instructions whose words are made of the expansions users write. */
export function generateDockerfile(r: () => number, instructions = INSTRUCTIONS): string {
  const word = () => Array.from({ length: 1 + Math.floor(r() * 3) }, () => PIECES[Math.floor(r() * PIECES.length)]).join('');
  const lines = ['ARG A=a', 'FROM scratch'];
  for (let i = Math.floor(r() * 8); i >= 0; i--) {
    lines.push(instructions[Math.floor(r() * instructions.length)]!.replace(/K/g, () => ['A', 'B', 'C', 'k1'][Math.floor(r() * 4)]!).replace(/W/g, word));
  }
  return lines.join('\n') + '\n';
}

