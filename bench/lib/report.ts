import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** One measured figure, with the DESIGN §8 target it is checked against. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** e.g. `>= 0.7` or `< 25`; the figure meets it or not. */
  target?: { op: '>=' | '<=' | '<' | '>'; value: number };
}

export function meets(figure: Figure): boolean | null {
  if (!figure.target) return null;
  const { op, value } = figure.target;
  switch (op) {
    case '>=':
      return figure.value >= value;
    case '<=':
      return figure.value <= value;
    case '<':
      return figure.value < value;
    case '>':
      return figure.value > value;
  }
}

/** Prints the figures as a table and writes them to bench/results/<name>.json (not committed). */
export async function report(benchmark: string, figures: Figure[], notes: Record<string, unknown> = {}): Promise<void> {
  const rows = figures.map((figure) => {
    const verdict = meets(figure);
    const target = figure.target ? `${figure.target.op} ${figure.target.value}` : '';
    return `  ${figure.name.padEnd(58)} ${figure.value.toFixed(figure.unit === 'ratio' ? 3 : 1).padStart(12)} ${figure.unit.padEnd(8)} ${target.padEnd(10)} ${verdict === null ? '' : verdict ? 'meets' : 'MISSES'}`;
  });
  console.log(`\n${benchmark}\n${rows.join('\n')}`);
  const directory = path.resolve(import.meta.dirname, '../results');
  await mkdir(directory, { recursive: true });
  await writeFile(
    path.join(directory, `${benchmark}.json`),
    `${JSON.stringify({ benchmark, at: new Date().toISOString(), node: process.version, figures, notes }, null, 2)}\n`,
  );
}
