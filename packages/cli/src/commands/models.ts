import { Runtime } from '@crnn/core';
import { buildModel, formatSummary, ZOO, zooEntry } from '@crnn/models';

/** `crnn-cli models [--json]`: the zoo with parameter counts at each default config. */
export async function modelsCommand(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const rt = await Runtime.create();
  try {
    for (const e of ZOO) {
      const m = buildModel(rt, e.name);
      const params = m.parameterCount();
      m.dispose();
      if (json) console.log(JSON.stringify({ name: e.name, params, from: e.from, input: [e.defaults.inChannels ?? 1, e.defaults.height, e.defaults.width], classes: e.defaults.numClasses, description: e.description }));
      else console.log(`${e.name.padEnd(17)} ${params.toLocaleString('en-US').padStart(12)}  ${e.from}: ${e.description}`);
    }
    return 0;
  } finally {
    rt.destroy();
  }
}

/** `crnn-cli summary NAME [--batch N] [--width W] [--classes C]`: a torchinfo-like table. */
export async function summaryCommand(argv: string[]): Promise<number> {
  const name = argv.find((a) => !a.startsWith('-'));
  if (!name) throw new Error('summary: give a model name (crnn-cli models lists them)');
  const opt = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  zooEntry(name);
  const rt = await Runtime.create();
  try {
    const classes = opt('--classes');
    const m = buildModel(rt, name, classes ? { numClasses: classes } : {});
    console.log(formatSummary(m, opt('--batch') ?? 1, opt('--width') ?? m.info.width));
    m.dispose();
    return 0;
  } finally {
    rt.destroy();
  }
}
