// The questions of interactive `advise`, one line of stdin each. An answer it cannot read is asked
// again, a few times; input that ends before the last question stops the command. A missing or
// garbled answer is never taken as "no": that would advise, and write files, for facts nobody gave.
import { createInterface } from 'node:readline';
import type { Io } from '../io.ts';

/** Tries per question: a script piping answers that do not fit ends, instead of looping. */
export const TRIES = 3;

/** An answer read, or what is wrong with it (said before the question is asked again). */
export type Parsed<T> = { value: T } | { problem: string };

/** The questions ended without an answer; the message names the question. */
export class Unanswered extends Error {}

export interface Prompter {
  /** Asks until `parse` accepts an answer; an empty answer takes `fallback` when there is one.
   * The question shows `[choices]`, else `[fallback]`. */
  ask<T>(
    question: string,
    parse: (answer: string) => Parsed<T>,
    fallback?: string,
    choices?: string,
  ): Promise<T>;
  /** A yes/no question; an empty answer is no. */
  yes(question: string): Promise<boolean>;
  close(): void;
}

export function prompter(io: Io, stdin: NodeJS.ReadableStream): Prompter {
  // Lines are read through the async iterator, which buffers them: answers piped in ahead of the
  // questions (scripts, tests) are not lost.
  const rl = createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async <T>(
    question: string,
    parse: (answer: string) => Parsed<T>,
    fallback?: string,
    choices = fallback,
  ) => {
    for (let tries = 1; ; tries++) {
      io.stderr(`${question} ${choices === undefined ? '' : `[${choices}] `}`);
      const { value, done } = await lines.next();
      if (done) {
        io.stderr('\n');
        throw new Unanswered(
          `input ended before an answer to "${question}"; nothing written: answer every question, or give what you have with --has and the starter options`,
        );
      }
      const answer = String(value).trim();
      const parsed = parse(answer === '' && fallback !== undefined ? fallback : answer);
      if ('value' in parsed) return parsed.value;
      io.stderr(`  ${parsed.problem}\n`);
      if (tries === TRIES) {
        throw new Unanswered(
          `no usable answer to "${question}" in ${TRIES} tries (${parsed.problem}); nothing written`,
        );
      }
    }
  };
  return {
    ask,
    yes: (question) => ask(question, yesNo, 'n', 'y/N'),
    close: () => rl.close(),
  };
}

function yesNo(answer: string): Parsed<boolean> {
  const a = answer.toLowerCase();
  if (a === 'y' || a === 'yes') return { value: true };
  if (a === '' || a === 'n' || a === 'no') return { value: false };
  return { problem: `answer y or n (an empty answer is no), not "${answer}"` };
}
