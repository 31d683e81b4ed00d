/**
 * The persistent buffers of a Trainer as a table of (state field, live buffer,
 * array type): export copies them, import checks every field's type and length before anything
 * is written (errors name `state.<field>`) and then copies them in place.
 */
type StateArray = Float32Array | Float64Array | Int32Array | BigUint64Array;
type StateArrayCtor =
  Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor | BigUint64ArrayConstructor;

/** One persistent buffer: its field name in the exported state, the live buffer, its array type. */
export type StateField<K extends string> = [K, StateArray, StateArrayCtor];

/** A copy of every buffer, keyed by field name. */
export function exportFields<K extends string>(fields: Array<StateField<K>>): Record<K, StateArray> {
  return Object.fromEntries(fields.map(([name, live]) => [name, live.slice()])) as Record<K, StateArray>;
}

/** Throws a TypeError / RangeError naming `state.<field>` unless every field has the live buffer's type and length. */
export function checkFields<K extends string>(state: Record<K, unknown>, fields: Array<StateField<K>>): void {
  for (const [name, live, ctor] of fields) {
    const v = state[name];
    if (!(v instanceof ctor)) throw new TypeError(`state.${name} must be a ${ctor.name}`);
    if (v.length !== live.length)
      throw new RangeError(`state.${name} must have length ${live.length} (got ${v.length})`);
  }
}

/** Copies every (checked) field into its live buffer. */
export function importFields<K extends string>(state: Record<K, unknown>, fields: Array<StateField<K>>): void {
  for (const [name, live] of fields) (live as { set(v: unknown): void }).set(state[name]);
}
