// Pools without `stride` have stride = kernel (PyTorch's MaxPool2d / AvgPool2d default, and what
// native/model.h documents for stride 0); smallCnn() is the PyTorch MNIST example's network.
import { expect } from 'chai';

import { describe as describeSpec, smallCnn, type LayerSpec } from '../../src/index.js';

function poolOut(input: number[], pool: LayerSpec): number[] {
  return describeSpec({ input, layers: [pool, { type: 'dense', units: 2 }] }).layerOutputShapes[0]!;
}

describe('pool stride default', () => {
  it('smallCnn() on 28×28×1: pool output 12×12×64, 1,199,882 parameters (PyTorch MNIST example)', () => {
    const layout = describeSpec(smallCnn());
    expect(layout.layerOutputShapes.map((s) => s.join('×'))).to.deep.equal([
      '32×26×26',
      '32×26×26',
      '64×24×24',
      '64×24×24',
      '64×12×12',
      '128',
      '128',
      '10',
    ]);
    expect(layout.params.find((p) => p.name === '5.weight')!.shape).to.deep.equal([128, 64 * 12 * 12]);
    expect(layout.paramCount).to.equal(1199882);
  });

  it('a maxpool without stride has stride = kernel', () => {
    expect(poolOut([3, 28, 28], { type: 'maxpool', kernel: 2 })).to.deep.equal([3, 14, 14]);
    expect(poolOut([1, 9, 9], { type: 'maxpool', kernel: 3 })).to.deep.equal([1, 3, 3]);
    expect(poolOut([1, 7, 7], { type: 'maxpool', kernel: 2 })).to.deep.equal([1, 3, 3]); // floor((7-2)/2)+1
    expect(poolOut([1, 4, 4], { type: 'maxpool', kernel: 2, stride: undefined })).to.deep.equal([1, 2, 2]);
  });

  it('an avgpool without stride has stride = kernel', () => {
    expect(poolOut([2, 8, 8], { type: 'avgpool', kernel: 4 })).to.deep.equal([2, 2, 2]);
  });

  it('explicit strides are kept: 1 overlaps, 0 means kernel', () => {
    expect(poolOut([1, 4, 4], { type: 'maxpool', kernel: 2, stride: 1 })).to.deep.equal([1, 3, 3]);
    expect(poolOut([1, 4, 4], { type: 'avgpool', kernel: 2, stride: 1 })).to.deep.equal([1, 3, 3]);
    expect(poolOut([1, 4, 4], { type: 'maxpool', kernel: 2, stride: 0 })).to.deep.equal([1, 2, 2]);
    expect(poolOut([1, 6, 6], { type: 'maxpool', kernel: 2, stride: 3 })).to.deep.equal([1, 2, 2]);
  });

  it('convolutions and resblocks still default to stride 1', () => {
    const conv = describeSpec({
      input: [1, 6, 6],
      layers: [
        { type: 'conv2d', units: 2, kernel: 3 },
        { type: 'dense', units: 2 },
      ],
    });
    expect(conv.layerOutputShapes[0]).to.deep.equal([2, 4, 4]);
    const res = describeSpec({
      input: [2, 6, 6],
      layers: [
        { type: 'resblock', units: 2 },
        { type: 'dense', units: 2 },
      ],
    });
    expect(res.layerOutputShapes[0]).to.deep.equal([2, 6, 6]);
  });
});
