/** The E1 options that let a sweep run one cell per task: etaGrid.indices, noise.stdIndices. */
import { expect } from 'chai';

import { landscapePresets, runLandscape, validateLandscapeConfig, type LandscapeConfig } from '../../src/experiments/landscape.js';

function tiny1d(): LandscapeConfig {
  const c = structuredClone(landscapePresets.tiny);
  c.instances = [{ name: '1d', dim: 1, dips: 2, seed: 1 }];
  c.trajectories.count = 0;
  c.noise.anneal = ['none'];
  return c;
}

describe('landscape config: etaGrid.indices / noise.stdIndices', function () {
  this.timeout(30000);

  it('a selected cell is bit for bit the same cell of the full grid', async () => {
    const full = await runLandscape(tiny1d());
    const cut = tiny1d();
    cut.etaGrid.indices = [7, 2];
    cut.noise.etaFactors = [0.9];
    cut.noise.stdIndices = [1];
    const part = await runLandscape(cut);
    const [f, p] = [full.instances[0], part.instances[0]];
    expect(p.sweep).to.deep.equal([f.sweep[7], f.sweep[2]]);
    expect(p.noise).to.have.length(1);
    expect(p.noise[0]).to.deep.equal(f.noise.find((c) => c.etaFactor === 0.9 && c.stdFactor === f.noise[1].stdFactor));
  });

  it('an empty etaGrid.indices runs no noise-free cell', async () => {
    const c = tiny1d();
    c.etaGrid.indices = [];
    c.noise.enabled = false;
    const r = await runLandscape(c);
    expect(r.instances[0].sweep).to.deep.equal([]);
    expect(r.headline[0].smallEta).to.equal(null);
  });

  const bad: Array<[(c: any) => void, RegExp]> = [
    [(c) => (c.etaGrid.indices = 3), /config\.etaGrid\.indices must be an array/],
    [(c) => (c.etaGrid.indices = [10]), /config\.etaGrid\.indices\[0\] must be an integer in \[0, 9\]/],
    [(c) => (c.etaGrid.indices = [1, 1]), /config\.etaGrid\.indices\[1\] must not repeat an index/],
    [(c) => (c.noise.stdIndices = [0.5]), /config\.noise\.stdIndices\[0\] must be an integer in \[0, 2\]/],
    [(c) => (c.noise.stdIndices = ['0']), /config\.noise\.stdIndices\[0\] must be an integer/],
  ];
  for (const [mutate, re] of bad)
    it(`rejects ${mutate.toString().replace(/^\(c\) => \(?|\)?$/g, '')}`, () => {
      const c = tiny1d();
      mutate(c);
      expect(() => validateLandscapeConfig(c)).to.throw(re);
    });
});
