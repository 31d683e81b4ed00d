/**
 * The option kinds (batch modes, schedule kinds, transform kinds, noise modes, layer types, losses,
 * initialisations), as the addon spells them (binding/kinds.h): TypeScript checks options against
 * these lists, so TS and C++ share one list per kind. The union types of kind-names.ts must name
 * the same kinds; test/engine/kinds.test.ts checks that they do.
 */
import { native } from './binding.js';
import type { OptionKinds } from './kind-names.js';

export type * from './kind-names.js';

/** The addon's frozen lists, in the binding's order. */
export const kinds: OptionKinds = native.kinds;
