import type { Recognizer } from './crnn.js';

/** torchinfo-like rows: layer, output shape, parameters; with the total. */
export function summary(model: Recognizer, batch = 1, width = model.info.width) {
  const rows = model.summaryRows(batch, width);
  return { rows, total: model.parameterCount() };
}

export function formatSummary(model: Recognizer, batch = 1, width = model.info.width): string {
  const { rows, total } = summary(model, batch, width);
  const w0 = Math.max(24, ...rows.map((r) => r[0].length));
  const w1 = Math.max(16, ...rows.map((r) => `[${r[1].join(', ')}]`.length));
  const line = '-'.repeat(w0 + w1 + 16);
  const out = [
    `${model.info.name}: input [${batch}, ${model.info.inChannels}, ${model.info.height}, ${width}]`,
    line,
    `${'Layer'.padEnd(w0)}  ${'Output shape'.padEnd(w1)}  ${'Params'.padStart(12)}`,
    line,
    ...rows.map(([n, s, p]) => `${n.padEnd(w0)}  ${`[${s.join(', ')}]`.padEnd(w1)}  ${p.toLocaleString('en-US').padStart(12)}`),
    line,
    `Total params: ${total.toLocaleString('en-US')}`,
  ];
  return out.join('\n');
}
