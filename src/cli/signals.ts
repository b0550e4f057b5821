/**
 * An AbortSignal that fires on SIGINT or SIGTERM, so long work can stop its containers, unmount
 * and remove what it had half-written before the process exits (with 130, as shells expect).
 * A second signal exits at once.
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping (cleaning up; repeat to exit at once)\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
