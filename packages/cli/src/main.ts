import { Runtime } from '@crnn/core';
import { relu } from '@crnn/kernels';
import { evalCommand } from './commands/evaluate.js';
import { modelsCommand, summaryCommand } from './commands/models.js';
import { predictCommand } from './commands/predict.js';
import { trainCommand } from './commands/train.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { workerCommand } from './commands/worker.js';
import { statusCommand } from './commands/status.js';
import { goldenCommand } from './golden.js';

const HELP = `crnn-cli: train and run text-in-image recognizers on WebGPU

Usage: crnn-cli <command> [options]   (crnn-cli <command> --help for its options)

Commands:
  train           train a model (no options: the embedded MNIST digit strings;
                  --workers N: data-parallel over N local worker processes)
  coordinator     distributed training with workers started apart (crnn-cli worker)
  worker          join a coordinator: --connect ws://HOST:PORT (token in CRNN_TOKEN)
  status          progress and workers of a running coordinator
  eval            character error rate, accuracy and 1-NED of a model on labelled images
  predict         read images with a trained model
  models          the model zoo with parameter counts (--json: one object per line)
  summary NAME    layers, output shapes and parameters of a zoo model
  golden [DIR]    run the PyTorch golden cases in DIR (default ../shared/golden)
  info            print the WebGPU adapter and run a kernel on it
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
    case 'train':
      return trainCommand(rest);
    case 'coordinator':
      return coordinatorCommand(rest);
    case 'worker':
      return workerCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'eval':
      return evalCommand(rest);
    case 'predict':
      return predictCommand(rest);
    case 'models':
      return modelsCommand(rest);
    case 'summary':
      return summaryCommand(rest);
    case 'golden':
      return goldenCommand(rest);
    case 'info':
      return info(rest);
    default:
      console.error(`crnn-cli: unknown command '${cmd}' (try 'crnn-cli help')`);
      return 2;
  }
}

async function info(rest: string[]): Promise<number> {
  if (rest.includes('--help')) {
    process.stdout.write('Usage: crnn-cli info\n\nPrints the WebGPU adapter and its features, and runs a kernel.\n');
    return 0;
  }
  const rt = await Runtime.create();
  console.log(`adapter: ${rt.adapterName}${rt.info.isSoftware ? ' (software)' : ''}`);
  console.log(`features: ${Object.entries(rt.info.features).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const x = rt.upload([-2, -1, 0, 1, 2], [5]);
  const y = await rt.read(relu(rt, x));
  console.log(`relu([-2, -1, 0, 1, 2]) on the GPU = [${Array.from(y).join(', ')}]`);
  rt.destroy();
  return 0;
}
