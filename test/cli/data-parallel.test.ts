/**
 * `--data-parallel` misuse is refused before anything runs (src/cli/data-parallel.ts): the flag for
 * E1, without an MPI launcher, and MPI ranks without the flag. (The flag's real runs under mpirun
 * are in test/mpi/data-parallel.test.ts.)
 */
import { expect } from 'chai';

import { UsageError } from '../../src/cli/args.js';
import { dataParallelWorld } from '../../src/cli/data-parallel.js';
import { mpiBuilt } from '../../src/train/data-parallel.js';

describe('dataParallelWorld() (--data-parallel)', () => {
  it('is null without the flag in a plain process', () => {
    expect(dataParallelWorld('bigstep run', false, 'noise', {})).to.equal(null);
    expect(dataParallelWorld('bigstep run', false, 'noise', { OMPI_COMM_WORLD_SIZE: '1' })).to.equal(null);
  });

  it('refuses to run as one of several MPI ranks without the flag (each would write the same run directory)', () => {
    for (const env of [{ OMPI_COMM_WORLD_SIZE: '4' }, { PMI_SIZE: '2' }])
      expect(() => dataParallelWorld('bigstep run', false, 'noise', env)).to.throw(
        UsageError,
        /^bigstep run: this process is one of \d MPI ranks but --data-parallel is not set/,
      );
  });

  it('refuses the flag for E1 (landscape), which has no full-batch training to split', () => {
    expect(() => dataParallelWorld('bigstep run', true, 'landscape', {})).to.throw(
      UsageError,
      /^bigstep run: --data-parallel splits the full-batch training of escape and noise; "landscape" has none/,
    );
  });

  it('refuses the flag outside an MPI launcher (or without MPI in the build), saying how to start it', () => {
    expect(() => dataParallelWorld('bigstep sweep run', true, 'escape', {})).to.throw(
      UsageError,
      mpiBuilt()
        ? /^bigstep sweep run: --data-parallel needs MPI ranks: start the command with mpirun -n N or srun -n N \(N >= 2\)/
        : /^bigstep sweep run: --data-parallel needs a build with MPI support \(apt-get install openmpi-bin libopenmpi-dev/,
    );
  });
});
