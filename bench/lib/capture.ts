/**
 * Records the input of every request of one command a client sends while `during` runs, in the form the low-level
 * client sends it (after a document client has marshalled it). The bench uses it to copy a real debit's
 * transaction: its items give the ceiling loop the exact sizes a debit writes.
 */
interface StackOwner {
  middlewareStack: { add: (mw: any, options: any) => void; remove: (name: string) => boolean };
}

const NAME = 'benchCaptureInputs';

export async function captureInputs<T>(client: StackOwner, commandName: string, during: () => Promise<T>): Promise<{ result: T; inputs: Array<Record<string, unknown>> }> {
  const inputs: Array<Record<string, unknown>> = [];
  client.middlewareStack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        if (context.commandName === commandName) inputs.push(structuredClone(args.input));
        return next(args);
      },
    // After the document client's marshalling (which sits before the serializer): the wire form of the items.
    { step: 'build', name: NAME, override: true },
  );
  try {
    return { result: await during(), inputs };
  } finally {
    client.middlewareStack.remove(NAME);
  }
}
