/**
 * minimist 1.2.8's parsing (MIT, James Halliday), the part the command line uses: booleans, strings, one-letter
 * aliases, defaults and an `unknown` callback. The flags were parsed with zx's copy of it; importing zx for it cost
 * every start ~150 ms. Same algorithm, step for step, so every flag is read as before (test/minimist.test.ts).
 */

/** What the parser is told. */
export interface MinimistOptions {
  readonly boolean: readonly string[];
  readonly string: readonly string[];
  readonly default: Readonly<Record<string, unknown>>;
  /** `{h: 'help'}`: a short name and its long one. */
  readonly alias: Readonly<Record<string, string>>;
  /** Called with an argument that names no known flag (or a positional); false leaves it out of the result. */
  readonly unknown: (arg: string) => boolean;
}

/** Parsed arguments: each flag's value (a list when repeated), positionals under `_`. */
export type Parsed = Record<string, unknown> & { _: Array<string | number> };

function isNumber(x: unknown): boolean {
  if (typeof x === 'number') return true;
  if (typeof x !== 'string') return false;
  if (/^0x[0-9a-f]+$/i.test(x)) return true;
  return /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(e[-+]?\d+)?$/.test(x);
}

/** Parse `args` as minimist(args, options) does. */
export function minimist(input: readonly string[], options: MinimistOptions): Parsed {
  const bools = new Set(options.boolean);
  const aliases = new Map<string, string[]>();
  for (const [short, long] of Object.entries(options.alias)) {
    aliases.set(short, [long]);
    aliases.set(long, [short]);
  }
  const strings = new Set<string>();
  for (const key of options.string) {
    strings.add(key);
    for (const k of aliases.get(key) ?? []) strings.add(k);
  }
  const aliasIsBoolean = (key: string) => (aliases.get(key) ?? []).some((x) => bools.has(x));
  const argDefined = (key: string) => strings.has(key) || bools.has(key) || aliases.has(key);
  const argv: Parsed = { _: [] };

  const setKey = (key: string, value: unknown) => {
    // The keys set are known flags (an unknown one goes to `unknown`, which refuses every `-…`): no dotted paths.
    if (key === '__proto__' || (key === 'constructor' && typeof argv[key] === 'function')) return;
    const old = argv[key];
    if (old === undefined || bools.has(key) || typeof old === 'boolean') argv[key] = value;
    else if (Array.isArray(old)) old.push(value);
    else argv[key] = [old, value];
  };
  const setArg = (key: string, val: unknown, arg?: string) => {
    if (arg !== undefined && !argDefined(key) && options.unknown(arg) === false) return;
    const value = !strings.has(key) && isNumber(val) ? Number(val) : val;
    setKey(key, value);
    for (const x of aliases.get(key) ?? []) setKey(x, value);
  };

  for (const key of bools) setArg(key, options.default[key] === undefined ? false : options.default[key]);

  const dashes = input.indexOf('--');
  const notFlags = dashes === -1 ? [] : input.slice(dashes + 1);
  const args = dashes === -1 ? input : input.slice(0, dashes);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (/^--.+=/.test(arg)) {
      const m = /^--([^=]+)=([\s\S]*)$/.exec(arg) as RegExpExecArray;
      const key = m[1] as string;
      setArg(key, bools.has(key) ? m[2] !== 'false' : m[2], arg);
    } else if (/^--no-.+/.test(arg)) {
      setArg((/^--no-(.+)/.exec(arg) as RegExpExecArray)[1] as string, false, arg);
    } else if (/^--.+/.test(arg)) {
      const key = (/^--(.+)/.exec(arg) as RegExpExecArray)[1] as string;
      const next = args[i + 1];
      if (
        next !== undefined &&
        !/^(-|--)[^-]/.test(next) &&
        !bools.has(key) &&
        (aliases.has(key) ? !aliasIsBoolean(key) : true)
      ) {
        setArg(key, next, arg);
        i += 1;
      } else if (next !== undefined && /^(true|false)$/.test(next)) {
        setArg(key, next === 'true', arg);
        i += 1;
      } else {
        setArg(key, strings.has(key) ? '' : true, arg);
      }
    } else if (/^-[^-]+/.test(arg)) {
      const letters = arg.slice(1, -1).split('');
      let broken = false;
      for (let j = 0; j < letters.length; j++) {
        const letter = letters[j] as string;
        const next = arg.slice(j + 2);
        if (next === '-') {
          setArg(letter, next, arg);
          continue;
        }
        if (/[A-Za-z]/.test(letter) && next[0] === '=') {
          setArg(letter, next.slice(1), arg);
          broken = true;
          break;
        }
        if (/[A-Za-z]/.test(letter) && /-?\d+(\.\d*)?(e-?\d+)?$/.test(next)) {
          setArg(letter, next, arg);
          broken = true;
          break;
        }
        if (letters[j + 1] && /\W/.test(letters[j + 1] as string)) {
          setArg(letter, arg.slice(j + 2), arg);
          broken = true;
          break;
        } else {
          setArg(letter, strings.has(letter) ? '' : true, arg);
        }
      }
      const key = arg.slice(-1);
      if (!broken && key !== '-') {
        const next = args[i + 1];
        if (next && !/^(-|--)[^-]/.test(next) && !bools.has(key) && (aliases.has(key) ? !aliasIsBoolean(key) : true)) {
          setArg(key, next, arg);
          i += 1;
        } else if (next && /^(true|false)$/.test(next)) {
          setArg(key, next === 'true', arg);
          i += 1;
        } else {
          setArg(key, strings.has(key) ? '' : true, arg);
        }
      }
    } else if (options.unknown(arg) !== false) {
      argv._.push(strings.has('_') || !isNumber(arg) ? arg : Number(arg));
    }
  }
  for (const [k, value] of Object.entries(options.default)) {
    if (!(k in argv)) {
      setKey(k, value);
      for (const x of aliases.get(k) ?? []) setKey(x, value);
    }
  }
  for (const k of notFlags) argv._.push(k);
  return argv;
}
