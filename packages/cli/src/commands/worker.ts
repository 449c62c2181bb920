import { workerMain } from '@crnn/trainer';

export function workerCommand(argv: string[]): Promise<number> {
  return workerMain(argv);
}
