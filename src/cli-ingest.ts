/**
 * `npm run cli -- ingest <file> --hub <url> …`: sends a local NDJSON file of bibliographic data to a hub's bulk
 * ingest (`POST /v1/applications/bulk`) or a deposit package (zip) to `POST /v1/packages`, streamed from disk with a
 * progress bar on standard error, and prints a summary at the end. A client of the hub's HTTP API: it needs no
 * database and no configuration, only the hub's URL and a token (or an API client's id and secret).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';

/** Where progress goes (standard error by default). */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface IngestCommand {
  file: string;
  hub: string;
  token?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** How often a package's status is polled, in ms (default 1,000). */
  pollMs?: number;
}

export interface IngestDependencies {
  fetch: typeof fetch;
  progress: ProgressOutput;
}

/** A refusal by the hub, or a file or network problem: printed as `error: …`, exit 1. */
export class IngestError extends Error {}

interface Problem {
  status?: number;
  errorCode?: string;
  detail?: string;
}

interface IngestSummary {
  lines: number;
  accepted: number;
  created: number;
  updated: number;
  rejected: number;
  errors: { line: number; errorCode: string; detail: string }[];
  errorsOmitted: number;
  families: { created: number; merged: number; split: number; dissolved: number; moved: number };
  durationMs: number;
}

interface PackageView {
  id: string;
  status: 'queued' | 'processing' | 'completed' | 'refused' | 'failed';
  progress: { done: number; total: number };
  error: { errorCode: string; detail: string } | null;
  results?: { kind: string; reference: string; status: string; errorCode?: string; detail?: string }[];
}

const MB = 1024 * 1024;
const number = (value: number): string => value.toLocaleString('en');
const size = (bytes: number): string => (bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} kB`);

async function problemOf(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as Problem;
    return `${response.status} ${problem.errorCode ?? ''}: ${problem.detail ?? text}`.trim();
  } catch {
    return `${response.status} ${text.slice(0, 500)}`;
  }
}

/** The bearer token: given, or obtained with the client credentials grant. */
async function tokenFor(command: IngestCommand, fetcher: typeof fetch, base: string): Promise<string> {
  if (command.token !== undefined) return command.token;
  if (command.clientId === undefined || command.clientSecret === undefined) throw new IngestError('Give --token, or --client-id and --client-secret');
  const basic = Buffer.from(`${encodeURIComponent(command.clientId)}:${encodeURIComponent(command.clientSecret)}`).toString('base64');
  const response = await fetcher(`${base}/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: 'grant_type=client_credentials',
  });
  if (!response.ok) throw new IngestError(`The hub refused the client credentials: ${await problemOf(response)}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A progress bar: bytes sent of the file, lines sent, rate. Redrawn in place on a terminal, a line every few seconds otherwise. */
function progressBar(output: ProgressOutput, total: number, label: string) {
  const started = Date.now();
  let last = 0;
  const render = (bytes: number, lines: number, final: boolean) => {
    const now = Date.now();
    if (!final && now - last < (output.isTTY ? 200 : 5_000)) return;
    last = now;
    const ratio = total > 0 ? Math.min(1, bytes / total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    const seconds = Math.max(0.001, (now - started) / 1000);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${size(bytes)}/${size(total)}${lines >= 0 ? ` ${number(lines)} lines (${number(Math.round(lines / seconds))}/s)` : ''}`;
    output.write(output.isTTY ? `\r${text}${final ? '\n' : ''}` : `${text}\n`);
  };
  return render;
}

/** The file as a stream that counts bytes and lines as they are sent. */
function countingStream(file: string, onProgress: (bytes: number, lines: number) => void): Readable {
  let bytes = 0;
  let lines = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines += 1;
      onProgress(bytes, lines);
      done(null, chunk);
    },
  });
  return createReadStream(file, { highWaterMark: 256 * 1024 }).on('error', (error) => counter.destroy(error)).pipe(counter);
}

async function send(fetcher: typeof fetch, url: string, token: string, contentType: string, body: Readable): Promise<Response> {
  try {
    return await fetcher(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body: Readable.toWeb(body),
      duplex: 'half',
    });
  } catch (error) {
    const cause = (error as Error).cause;
    throw new IngestError(`Could not send to ${url}: ${cause instanceof Error ? cause.message : (error as Error).message}`);
  }
}

function summaryOfIngest(file: string, summary: IngestSummary, seconds: number): string {
  const lines = [
    `Ingested ${path.basename(file)}: ${number(summary.lines)} lines in ${seconds.toFixed(1)} s (${number(Math.round(summary.accepted / Math.max(seconds, 0.001)))} applications/s)`,
    `  accepted ${number(summary.accepted)} (created ${number(summary.created)}, updated ${number(summary.updated)}), rejected ${number(summary.rejected)}`,
    `  families: ${number(summary.families.created)} created, ${number(summary.families.merged)} merged, ${number(summary.families.split)} split, ${number(summary.families.dissolved)} dissolved; ${number(summary.families.moved)} applications placed`,
  ];
  const shown = summary.errors.slice(0, 20);
  if (shown.length > 0) {
    lines.push('  rejected lines:');
    for (const error of shown) lines.push(`    line ${error.line}: ${error.errorCode} ${error.detail}`);
    const more = summary.errors.length - shown.length + summary.errorsOmitted;
    if (more > 0) lines.push(`    … and ${number(more)} more`);
  }
  return lines.join('\n');
}

function summaryOfPackage(file: string, view: PackageView, seconds: number): string {
  if (view.status !== 'completed') return `Package ${path.basename(file)} (${view.id}) ${view.status}${view.error ? `: ${view.error.errorCode} ${view.error.detail}` : ''}`;
  const results = view.results ?? [];
  const byKind = new Map<string, { accepted: number; refused: number }>();
  for (const result of results) {
    const counts = byKind.get(result.kind) ?? { accepted: 0, refused: 0 };
    if (result.status === 'accepted') counts.accepted += 1;
    else counts.refused += 1;
    byKind.set(result.kind, counts);
  }
  const lines = [`Package ${path.basename(file)} (${view.id}) completed in ${seconds.toFixed(1)} s`];
  for (const [kind, counts] of byKind) lines.push(`  ${kind}: ${number(counts.accepted)} accepted, ${number(counts.refused)} refused`);
  const refused = results.filter((result) => result.status !== 'accepted').slice(0, 20);
  for (const result of refused) lines.push(`    ${result.kind} ${result.reference}: ${result.errorCode ?? result.status} ${result.detail ?? ''}`.trimEnd());
  return lines.join('\n');
}

/** Sends the file and returns the summary to print; throws IngestError for what stops it. */
export async function runIngest(command: IngestCommand, dependencies: IngestDependencies): Promise<string> {
  const base = command.hub.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new IngestError(`--hub must be the hub's URL (http:// or https://), not "${command.hub}"`);
  let total: number;
  try {
    const info = await stat(command.file);
    if (!info.isFile()) throw new Error('not a file');
    total = info.size;
  } catch {
    throw new IngestError(`Cannot read ${command.file}`);
  }
  const token = await tokenFor(command, dependencies.fetch, base);
  const started = Date.now();
  const isPackage = command.file.toLowerCase().endsWith('.zip');
  const render = progressBar(dependencies.progress, total, isPackage ? 'upload' : 'ingest');
  let sent = { bytes: 0, lines: 0 };
  const body = countingStream(command.file, (bytes, lines) => {
    sent = { bytes, lines };
    render(bytes, isPackage ? -1 : lines, false);
  });

  if (!isPackage) {
    const response = await send(dependencies.fetch, `${base}/v1/applications/bulk`, token, 'application/x-ndjson', body);
    render(sent.bytes, sent.lines, true);
    if (!response.ok) throw new IngestError(`The hub refused the ingest: ${await problemOf(response)}`);
    return summaryOfIngest(command.file, (await response.json()) as IngestSummary, (Date.now() - started) / 1000);
  }

  const response = await send(dependencies.fetch, `${base}/v1/packages`, token, 'application/zip', body);
  render(sent.bytes, -1, true);
  if (response.status === 404) throw new IngestError(`This hub takes no deposit packages (POST /v1/packages: ${await problemOf(response)})`);
  if (!response.ok) throw new IngestError(`The hub refused the package: ${await problemOf(response)}`);
  let view = (await response.json()) as PackageView;
  // The package is processed as a job: follow it to its end.
  while (view.status === 'queued' || view.status === 'processing') {
    dependencies.progress.write(`${dependencies.progress.isTTY ? '\r' : ''}package ${view.id} ${view.status}: ${number(view.progress.done)}/${number(view.progress.total)} entries${dependencies.progress.isTTY ? '' : '\n'}`);
    await new Promise((resolve) => setTimeout(resolve, command.pollMs ?? 1_000));
    const poll = await dependencies.fetch(`${base}/v1/packages/${view.id}`, { headers: { authorization: `Bearer ${token}` } });
    if (!poll.ok) throw new IngestError(`Could not follow package ${view.id}: ${await problemOf(poll)}`);
    view = (await poll.json()) as PackageView;
  }
  if (dependencies.progress.isTTY) dependencies.progress.write('\n');
  return summaryOfPackage(command.file, view, (Date.now() - started) / 1000);
}
