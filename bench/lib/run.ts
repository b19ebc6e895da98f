// How every bench runs its main: everything it started is stopped on the way out, on an error, on
// SIGINT/SIGTERM and at a deadline; a finished report exits even if a stray socket or timer is left.
export function runBench(name: string, deadlineMs: number, main: () => Promise<void>, cleanup: () => Promise<void>): void {
  const deadline = setTimeout(() => {
    console.error(`${name}: not done within ${deadlineMs / 1000} s; stopping everything`);
    void cleanup().finally(() => process.exit(1));
  }, deadlineMs);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }

  main()
    .catch((e: unknown) => {
      console.error(`${name} failed: ${e instanceof Error ? e.stack : String(e)}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      clearTimeout(deadline);
      process.exit();
    });
}
