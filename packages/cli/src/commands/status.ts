import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const STATUS_HELP = `Usage: crnn-cli status --connect ws://HOST:PORT [--token T] [--json]

Asks a running coordinator for its progress and its workers (token: --token or CRNN_TOKEN).
  --ca FILE / --insecure   for a wss:// coordinator with a private or self-signed certificate
`;

interface Status {
  url: string;
  step: number | null;
  progress: Record<string, number | string>;
  workersAlive: number;
  totals: Record<string, number>;
  workers: Array<{ id: number; name: string; remote: string; imagesPerSecond: number | null; itemsDone: number; outstanding: number[]; secondsSinceSeen: number }>;
  rejected: Array<{ remote: string; reason: string }>;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { connect: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, ca: { type: 'string' }, insecure: { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(STATUS_HELP);
    return 0;
  }
  const token = values.token ?? process.env.CRNN_TOKEN;
  if (!values.connect || !token) {
    console.error('crnn-cli status: --connect ws://HOST:PORT and a token (--token or CRNN_TOKEN) are required');
    return 2;
  }
  const url = new URL('/status', values.connect.replace(/^ws/, 'http'));
  const secure = url.protocol === 'https:';
  const body = await new Promise<{ code: number; text: string }>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      url,
      {
        headers: { authorization: `Bearer ${token}` },
        timeout: 10_000,
        ...(secure && values.ca ? { ca: readFileSync(values.ca) } : {}),
        ...(secure && values.insecure ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString('utf8')));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
  if (body.code !== 200) {
    console.error(`crnn-cli status: ${url.host}: HTTP ${body.code}: ${body.text.trim()}`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(body.text);
    return 0;
  }
  const s = JSON.parse(body.text) as Status;
  const p = s.progress;
  console.log(`coordinator ${s.url}: step ${s.step ?? '-'}${p.epoch !== undefined ? `, epoch ${p.epoch}/${p.epochs}, step ${p.stepInEpoch}/${p.stepsPerEpoch} of the epoch, loss ${Number(p.loss).toFixed(4)}, ${Number(p.imagesPerS).toFixed(1)} img/s` : ''}`);
  console.log(`workers alive: ${s.workersAlive}; steps ${s.totals.steps}, re-dealt micro-batches ${s.totals.redealt}, joined ${s.totals.workersJoined}, lost ${s.totals.workersLost}, ${(s.totals.bytes! / 1e6).toFixed(1)} MB moved`);
  for (const w of s.workers) {
    console.log(`  worker ${w.id} ${w.name} (${w.remote}): ${w.imagesPerSecond ?? '-'} img/s, ${w.itemsDone} micro-batches done, ${w.outstanding.length} outstanding, seen ${w.secondsSinceSeen} s ago`);
  }
  if (s.rejected.length) console.log(`recently rejected connections: ${s.rejected.length} (last: ${s.rejected[s.rejected.length - 1]!.reason})`);
  return 0;
}
