// Model specs for the native tests, built layer by layer.
#pragma once
#include "model.h"

inline bigstep::LayerSpec layer(bigstep::LayerKind k, int units = 0, int kernel = 0, int stride = 1) {
  bigstep::LayerSpec l;
  l.kind = k;
  l.units = units;
  l.kernel = kernel;
  l.stride = stride;
  return l;
}
