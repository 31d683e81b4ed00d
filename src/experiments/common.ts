/**
 * Shared by every experiment (E1 landscape.ts, E2 escape.ts, E3 noise.ts and escape-setup.ts):
 * the definition's `validate` from a config assertion (the assertions are zod schemas, src/util/schema.ts). Tasks run
 * at once through runConcurrently (src/train/concurrent.ts).
 */

// ---- validation -----------------------------------------------------------------------------------

/** An `ExperimentDefinition.validate` from a config assertion: throws as `assert` does, else returns the config. */
export function validatorOf<Config>(
  assert: (config: unknown) => asserts config is Config,
): (config: unknown) => Config {
  return (config) => {
    assert(config);
    return config;
  };
}

// ---- running ---------------------------------------------------------------------------------------
