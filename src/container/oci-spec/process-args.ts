import { invalidArgument } from '../../errors.js';

/**
 * The process argv from the CRI command/args and the image's Entrypoint/Cmd,
 * with the Docker rules kubelet relies on (and containerd keeps):
 * - CRI command replaces the Entrypoint, and then the image Cmd is dropped:
 *   only CRI args follow it;
 * - without a CRI command, CRI args replace the Cmd and follow the Entrypoint;
 * - an Entrypoint of exactly [""] is Docker's way of saying "no entrypoint".
 */
export function processArgs(
  command: readonly string[],
  args: readonly string[],
  imageEntrypoint: readonly string[] | null | undefined,
  imageCmd: readonly string[] | null | undefined,
): string[] {
  let cmd = [...command];
  let rest = [...args];
  if (cmd.length === 0) {
    if (rest.length === 0) rest = [...(imageCmd ?? [])];
    const ep = imageEntrypoint ?? [];
    if (!(ep.length === 1 && ep[0] === '')) cmd = [...ep];
  }
  const argv = [...cmd, ...rest];
  if (argv.length === 0) throw invalidArgument('no command specified: neither the container config nor the image has one');
  return argv;
}
