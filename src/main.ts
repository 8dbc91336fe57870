#!/usr/bin/env node
import { Command, Option } from 'commander';

import { checkHost } from './config/check-host.js';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config/load.js';
import { renderDefaultConfig } from './config/render.js';
import { bootDaemon } from './daemon/boot.js';
import { createLogger } from './log.js';
import { CRI_API_VERSION, RUNTIME_VERSION } from './version.js';

const program = new Command('skiff').description('A Kubernetes CRI runtime: runc under conmon, real CNI, real registries.');

program
  .command('daemon')
  .description('serve the CRI RuntimeService and ImageService on a unix socket')
  .option('--config <file>', `configuration file (default ${DEFAULT_CONFIG_PATH}, embedded defaults if absent)`)
  .option('--root <dir>', 'persistent state directory (overrides root)')
  .option('--state-dir <dir>', 'runtime state directory (overrides state_dir)')
  .option('--listen <socket>', 'unix socket path (overrides listen)')
  .addOption(new Option('--log-level <level>', 'log verbosity (overrides log_level)'))
  .action(async (opts: { config?: string; root?: string; stateDir?: string; listen?: string; logLevel?: string }) => {
    let stop: (() => Promise<void>) | undefined;
    try {
      const { config, source } = loadConfig(opts.config, opts);
      const runtimes = checkHost(config, source ?? '(defaults)');
      const log = createLogger(config.logLevel);
      for (const r of runtimes.filter((x) => !x.available))
        log.warn({ runtime: r.name, problem: r.problem }, 'optional runtime handler unavailable');
      stop = await bootDaemon(config, source, runtimes, log);
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        void stop!().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    } catch (err) {
      const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
      process.stderr.write(`skiff: ${message}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    }
  });

const configCmd = program.command('config').description('configuration helpers');
configCmd
  .command('default')
  .description('print the full default configuration, one comment per option')
  .action(() => {
    process.stdout.write(renderDefaultConfig());
  });
configCmd
  .command('check')
  .description('validate a configuration file and the host against it')
  .option('--config <file>', 'configuration file', DEFAULT_CONFIG_PATH)
  .action((opts: { config: string }) => {
    try {
      const { config, source } = loadConfig(opts.config);
      checkHost(config, source ?? opts.config);
      process.stdout.write(`${opts.config}: ok\n`);
    } catch (err) {
      process.stderr.write(`skiff: ${(err as Error).message}\n`);
      process.exit(2);
    }
  });

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`skiff ${RUNTIME_VERSION} (CRI ${CRI_API_VERSION})\n`);
  });

await program.parseAsync(process.argv);
