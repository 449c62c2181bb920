import { parseArgs } from 'node:util';
import { Coordinator, loadTrainConfig, NoWorkersError, train } from '@crnn/trainer';
import { coordinatorOptions, FLAGS, TRAIN_HELP, trainOverrides } from './train.js';

export const COORDINATOR_HELP = `Usage: crnn-cli coordinator [--port P] [--host H] [training options]

Runs data-parallel training with workers started apart ('crnn-cli worker --connect ws://HOST:P'),
on this machine or others. The coordinator holds the model, reduces the workers' gradients in
micro-batch order, applies the optimizer, writes the checkpoints and validates; workers compute
the gradients of the micro-batches they are dealt. Restart it with --resume DIR after a crash:
workers reconnect by themselves.

  --port P              port to listen on (default 7070; 0 picks a free one)
  --host H              interface to bind (default 127.0.0.1; 0.0.0.0 for other machines)
  --token T             shared token (default: the CRNN_TOKEN environment variable); required
  --tls-cert FILE --tls-key FILE   serve wss:// (PEM files)
  --heartbeat S --timeout S --result-timeout S --wait-workers S   (see below)
  GET http://HOST:P/status with 'Authorization: Bearer TOKEN' (or crnn-cli status) reports progress.

Training options (as crnn-cli train):
${TRAIN_HELP.split('\n').slice(2).join('\n')}`;

export async function coordinatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...FLAGS, port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(COORDINATOR_HELP);
    return 0;
  }
  const token = values.token ?? process.env.CRNN_TOKEN;
  if (!token) {
    console.error('crnn-cli coordinator: a token is required (--token or the CRNN_TOKEN environment variable)');
    return 2;
  }
  if (!!values['tls-cert'] !== !!values['tls-key']) {
    console.error('crnn-cli coordinator: --tls-cert and --tls-key go together');
    return 2;
  }
  const port = values.port === undefined ? 7070 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`crnn-cli coordinator: --port: expected 0..65535, found '${values.port}'`);
    return 2;
  }
  const cfg = loadTrainConfig(values.config, trainOverrides(values));
  const coordinator = new Coordinator({
    ...coordinatorOptions(values),
    token,
    port,
    host: values.host ?? '127.0.0.1',
    ...(values['tls-cert'] ? { tls: { cert: values['tls-cert'], key: values['tls-key']! } } : {}),
  });
  await coordinator.listen();
  try {
    const r = await train(cfg, { executor: coordinator, ...(cfg.quiet ? { log: () => {} } : {}) });
    console.log(JSON.stringify({ out: r.out, epochs: r.epochs, steps: r.steps, accuracy: r.best.accuracy, cer: r.best.cer, ned: r.best.ned, seconds: Math.round(r.seconds) }));
    return 0;
  } catch (e) {
    if (e instanceof NoWorkersError) {
      console.error(`crnn-cli coordinator: ${e.message}`);
      return 3;
    }
    throw e;
  } finally {
    await coordinator.finish('training finished');
  }
}
