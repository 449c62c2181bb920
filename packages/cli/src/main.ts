import { Runtime } from '@crnn/core';
import { relu } from '@crnn/kernels';
import { goldenCommand } from './golden.js';

const HELP = `crnn-cli: train and run text-in-image recognizers on WebGPU

Usage: crnn-cli <command> [options]

Commands:
  info            print the WebGPU adapter and run a kernel on it
  golden [DIR]    run the PyTorch golden cases in DIR (default ../shared/golden)
  train           train a model (until the trainer lands: a runtime smoke run)
  help            this text
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    case 'golden':
      return goldenCommand(rest);
    case 'info':
    case 'train':
      return smoke(cmd, rest);
    default:
      console.error(`crnn-cli: unknown command '${cmd}' (try 'crnn-cli help')`);
      return 2;
  }
}

async function smoke(cmd: string, rest: string[]): Promise<number> {
  if (rest.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const rt = await Runtime.create();
  console.log(`adapter: ${rt.adapterName}${rt.info.isSoftware ? ' (software)' : ''}`);
  console.log(`features: ${Object.entries(rt.info.features).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const x = rt.upload([-2, -1, 0, 1, 2], [5]);
  const y = await rt.read(relu(rt, x));
  console.log(`relu([-2, -1, 0, 1, 2]) on the GPU = [${Array.from(y).join(', ')}]`);
  if (cmd === 'train') console.log('train: the trainer is not built yet; this was a runtime smoke run.');
  rt.destroy();
  return 0;
}
