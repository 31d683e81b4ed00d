/** The E1 options that let a sweep run one cell per task: etaGrid.indices, noise.stdIndices. */
import { expect } from 'chai';

import {
  landscapePresets,
  runLandscape,
  validateLandscapeConfig,
  type LandscapeConfig,
} from '../../src/experiments/landscape.js';

function tiny1d(): LandscapeConfig {
  const c = structuredClone(landscapePresets.tiny);
  c.instances = [c.instances[0]];
  c.trajectories.count = 0;
  return c;
}

describe('landscape config: etaGrid.indices / noise.stdIndices', function () {
  this.timeout(60000);

  it('a selected cell is bit for bit the same cell of the full grid', async () => {
    const full = await runLandscape(tiny1d());
    const cut = tiny1d();
    cut.etaGrid.indices = [7, 2];
    cut.noise.etaFactors = [0.9];
    cut.noise.stdIndices = [1];
    const part = await runLandscape(cut);
    const [f, p] = [full.instances[0], part.instances[0]];
    const pick = (set: string, i: number) => f.sweep.find((c) => c.startSet === set && c.index === i);
    expect(p.sweep).to.deep.equal([pick('W', 7), pick('W', 2), pick('M', 7), pick('M', 2)]);
    expect(p.noise.map((c) => c.arm)).to.deep.equal(['small-T', 'small-gammaT', 'large']);
    for (const c of p.noise)
      expect(c).to.deep.equal(
        f.noise.find((x) => x.arm === c.arm && x.etaFactor === c.etaFactor && x.stdFactor === c.stdFactor),
      );
  });

  it('an empty etaGrid.indices runs no noise-free cell', async () => {
    const c = tiny1d();
    c.etaGrid.indices = [];
    c.noise.enabled = false;
    const r = await runLandscape(c);
    expect(r.instances[0].sweep).to.deep.equal([]);
  });

  const bad: Array<[(c: any) => void, RegExp]> = [
    [(c) => (c.etaGrid.indices = 3), /config\.etaGrid\.indices must be an array/],
    [(c) => (c.etaGrid.indices = [10]), /config\.etaGrid\.indices\[0\] must be an integer in \[0, 9\]/],
    [(c) => (c.etaGrid.indices = [1, 1]), /config\.etaGrid\.indices\[1\] must not repeat an index/],
    [(c) => (c.noise.stdIndices = [0.5]), /config\.noise\.stdIndices\[0\] must be an integer in \[0, 4\]/],
    [(c) => (c.noise.stdIndices = ['0']), /config\.noise\.stdIndices\[0\] must be an integer/],
  ];
  for (const [mutate, re] of bad)
    it(`rejects ${mutate.toString().replace(/^\(c\) => \(?|\)?$/g, '')}`, () => {
      const c = tiny1d();
      mutate(c);
      expect(() => validateLandscapeConfig(c)).to.throw(re);
    });
});
