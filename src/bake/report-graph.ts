/**
 * Layout of the report's dependency graph: layered left to right, edges routed around the boxes.
 * An edge that spans several layers gets a placeholder slot in each column it passes (like a thin box),
 * so it runs between boxes there; between columns it only uses the empty gap. No edge can cross a
 * box it does not connect, whatever the graph.
 */
import type { TargetRecord } from './schedule.js';

export interface Point {
  x: number;
  y: number;
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: { name: string; x: number; y: number; w: number; h: number }[];
  /**
   * `points`: the edge's waypoints. From one to the next it alternates between a curve inside the gap
   * between two columns (`d` bends it with horizontal tangents, staying within the two points' box) and a
   * straight run across a column between its boxes.
   */
  edges: { from: string; to: string; d: string; points: Point[] }[];
}

const W = 180;
const H = 40;
const GX = 90;
const PAD = 20;
/** Space between two boxes, and between a box or an edge and the next edge passing the same column. */
const GAP_BOX = 18;
const GAP_EDGE = 12;
/** The arrowhead is drawn past the path's end, up to the box. */
const ARROW = 6;

interface Item {
  id: string;
  layer: number;
  /** a target's name; undefined for an edge passing the column */
  node?: string;
  up: Item[];
  down: Item[];
  /** center, vertically */
  y: number;
}

const size = (it: Item) => (it.node ? H : 0);

/** Pool-adjacent-violators: the ordered positions nearest (least squares) to `want` keeping each `sep[i]` below the previous one. */
function spread(want: number[], sep: number[]): number[] {
  const offset: number[] = [];
  want.forEach((_, i) => offset.push(i ? offset[i - 1]! + sep[i]! : 0));
  const blocks: { sum: number; n: number }[] = [];
  for (let i = 0; i < want.length; i++) {
    blocks.push({ sum: want[i]! - offset[i]!, n: 1 });
    while (blocks.length > 1 && blocks.at(-2)!.sum / blocks.at(-2)!.n > blocks.at(-1)!.sum / blocks.at(-1)!.n) {
      const b = blocks.pop()!;
      blocks.at(-1)!.sum += b.sum;
      blocks.at(-1)!.n += b.n;
    }
  }
  const out: number[] = [];
  for (const b of blocks) for (let k = 0; k < b.n; k++) out.push(b.sum / b.n + offset[out.length]!);
  return out;
}

/** Edge crossings between adjacent layers, for the order each item has in its layer. */
function crossings(layers: Item[][], pos: (it: Item) => number): number {
  let n = 0;
  for (const l of layers) {
    const segs = l.flatMap((u) => u.down.map((v) => [pos(u), pos(v)] as const));
    for (let a = 0; a < segs.length; a++)
      for (let b = a + 1; b < segs.length; b++) if ((segs[a]![0] - segs[b]![0]) * (segs[a]![1] - segs[b]![1]) < 0) n++;
  }
  return n;
}

/**
 * Layers by longest dependency chain; within a layer, items are ordered by the mean position of their
 * neighbours (barycenter sweeps, keeping the order with the fewest crossings), then placed vertically
 * near their neighbours so that chains run straight.
 */
export function layoutGraph(targets: Pick<TargetRecord, 'name' | 'deps'>[]): GraphLayout {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const depth = new Map<string, number>();
  const depthOf = (n: string, seen: string[] = []): number => {
    const d = depth.get(n);
    if (d !== undefined) return d;
    if (seen.includes(n)) return 0;
    const deps = (byName.get(n)?.deps ?? []).filter((x) => byName.has(x));
    const v = deps.length ? Math.max(...deps.map((x) => depthOf(x, [...seen, n]))) + 1 : 0;
    depth.set(n, v);
    return v;
  };
  targets.forEach((t) => depthOf(t.name));

  const layers: Item[][] = [];
  const add = (it: Item) => {
    (layers[it.layer] ??= []).push(it);
    return it;
  };
  const items = new Map(targets.map((t) => [t.name, add({ id: t.name, layer: depth.get(t.name)!, node: t.name, up: [], down: [], y: 0 })]));
  const chains: { from: string; to: string; items: Item[] }[] = [];
  for (const t of targets) {
    for (const d of t.deps) {
      const a = items.get(d);
      const b = items.get(t.name)!;
      // only a cycle breaks the layering (bake rejects cycles before it runs)
      if (!a || a.layer >= b.layer) continue;
      const chain = [a];
      for (let l = a.layer + 1; l < b.layer; l++) chain.push(add({ id: `${d}->${t.name}@${l}`, layer: l, up: [], down: [], y: 0 }));
      chain.push(b);
      for (let i = 1; i < chain.length; i++) {
        chain[i - 1]!.down.push(chain[i]!);
        chain[i]!.up.push(chain[i - 1]!);
      }
      chains.push({ from: d, to: t.name, items: chain });
    }
  }
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];

  const order = new Map<Item, number>();
  const pos = (it: Item) => order.get(it)!;
  const renumber = () => layers.forEach((l) => l.forEach((it, i) => order.set(it, i)));
  renumber();
  const mean = (xs: Item[], f: (it: Item) => number) => (xs.length ? xs.reduce((a, x) => a + f(x), 0) / xs.length : undefined);
  let best = layers.map((l) => [...l]);
  let fewest = crossings(layers, pos);
  for (let sweep = 0; sweep < 8 && fewest > 0; sweep++) {
    const down = sweep % 2 === 0;
    for (const l of down ? layers.slice(1) : layers.slice(0, -1).reverse()) {
      const key = new Map(l.map((it) => [it, mean(down ? it.up : it.down, pos) ?? pos(it)]));
      l.sort((a, b) => key.get(a)! - key.get(b)! || pos(a) - pos(b));
      l.forEach((it, i) => order.set(it, i));
    }
    const n = crossings(layers, pos);
    if (n < fewest) [fewest, best] = [n, layers.map((l) => [...l])];
  }
  best.forEach((l, i) => (layers[i] = l));
  renumber();

  const seps = (l: Item[]) => l.map((it, i) => (i ? (size(l[i - 1]!) + size(it)) / 2 + (l[i - 1]!.node && it.node ? GAP_BOX : GAP_EDGE) : 0));
  for (const l of layers) spread(l.map(() => 0), seps(l)).forEach((y, i) => (l[i]!.y = y));
  const tallest = Math.max(0, ...layers.map((l) => (l.length ? l.at(-1)!.y : 0)));
  for (const l of layers) {
    const shift = (tallest - (l.length ? l.at(-1)!.y : 0)) / 2;
    l.forEach((it) => (it.y += shift));
  }
  for (let pass = 0; pass < 6; pass++) {
    const down = pass % 2 === 0;
    for (const l of down ? layers.slice(1) : layers.slice(0, -1).reverse()) {
      const want = l.map((it) => mean(down ? it.up : it.down, (x) => x.y) ?? it.y);
      spread(want, seps(l)).forEach((y, i) => (l[i]!.y = y));
    }
  }
  const all = layers.flat();
  const top = all.length ? Math.min(...all.map((it) => it.y - size(it) / 2)) : 0;
  const bottom = all.length ? Math.max(...all.map((it) => it.y + size(it) / 2)) : 0;
  for (const it of all) it.y += PAD - top;
  const height = bottom - top + PAD * 2;
  const colX = (l: number) => PAD + l * (W + GX);

  const nodes: GraphLayout['nodes'] = targets.map((t) => {
    const it = items.get(t.name)!;
    return { name: t.name, x: colX(it.layer), y: it.y - H / 2, w: W, h: H };
  });

  // Ports: a box's edges leave and enter at distinct heights, in the order of the other end, so they do not bunch up.
  const port = (box: Item, other: Item, side: Item[]) => {
    const sorted = [...side].sort((a, b) => a.y - b.y || pos(a) - pos(b));
    const i = sorted.indexOf(other);
    const span = H - 16;
    return sorted.length < 2 ? box.y : box.y - span / 2 + (span * i) / (sorted.length - 1);
  };
  const r = (v: number) => Math.round(v * 10) / 10;
  const edges: GraphLayout['edges'] = chains.map(({ from, to, items: chain }) => {
    const a = chain[0]!;
    const b = chain.at(-1)!;
    const points: Point[] = [{ x: colX(a.layer) + W, y: port(a, chain[1]!, a.down) }];
    for (const it of chain.slice(1, -1)) points.push({ x: colX(it.layer), y: it.y }, { x: colX(it.layer) + W, y: it.y });
    points.push({ x: colX(b.layer) - ARROW, y: port(b, chain.at(-2)!, b.up) });
    let d = `M${r(points[0]!.x)},${r(points[0]!.y)}`;
    for (let i = 1; i < points.length; i++) {
      const p = points[i - 1]!;
      const q = points[i]!;
      if (i % 2 === 0) d += ` H${r(q.x)}`;
      else {
        const mx = r((p.x + q.x) / 2);
        d += ` C${mx},${r(p.y)} ${mx},${r(q.y)} ${r(q.x)},${r(q.y)}`;
      }
    }
    return { from, to, d, points };
  });
  return { width: PAD * 2 + layers.length * W + Math.max(0, layers.length - 1) * GX, height, nodes, edges };
}
