/**
 * `fieldsToRecord` (stream-id.ts) for the consumer's hot path, where every entry of a stream carries
 * the same field names: it keeps the previous entry's names and, when the next entry's name at the same
 * place is equal, uses the kept string as the property key. Each name Redis returns is a new string,
 * which JSC must look up in its table of property names before it can be a key (about half the cost
 * of building the record); a kept one already is one, and comparing two short strings is cheaper.
 * The record is the same either way. One reader per consumer: it holds one entry's names, no more.
 */
export function createFieldsReader(): (flat: readonly string[]) => Record<string, string> {
  const names: string[] = [];
  return (flat) => {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const place = i >> 1;
      const name = flat[i]!;
      const kept = names[place];
      if (kept === name) {
        record[kept] = flat[i + 1]!;
      } else {
        names[place] = name;
        record[name] = flat[i + 1]!;
      }
    }
    return record;
  };
}
