// ISA path selection (native/isa.h): BIGSTEP_ISA parsing, errors that name the variable, and the
// default being the widest path this CPU can run.
#include "isa.h"

#include <stdexcept>
#include <string>

#include "check.h"

using namespace bigstep;

static std::string error_of(const char* requested) {
  try {
    select_isa(requested);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

int main() {
  // Baseline runs everywhere, and a wider path is only offered when the narrower one is.
  CHECK(isa_available(Isa::baseline));
  CHECK(!isa_available(Isa::avx512) || isa_available(Isa::avx2));
  CHECK(select_isa("baseline") == Isa::baseline);
  const Isa best = isa_available(Isa::avx512) ? Isa::avx512 : isa_available(Isa::avx2) ? Isa::avx2 : Isa::baseline;
  CHECK(select_isa(nullptr) == best);
  CHECK(select_isa("") == best);
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (isa_available(isa)) {
      CHECK(select_isa(isa_name(isa)) == isa);
    } else {
      const std::string e = error_of(isa_name(isa));
      CHECK_MSG(e.find(std::string("BIGSTEP_ISA=") + isa_name(isa)) != std::string::npos, e);
      CHECK_MSG(e.find("available: ") != std::string::npos, e);
    }
  }
  for (const char* bad : {"AVX2", "sse2", "avx", "native"}) {
    const std::string e = error_of(bad);
    CHECK_MSG(e.find("BIGSTEP_ISA: unknown value \"" + std::string(bad) + "\"") != std::string::npos, e);
  }
  CHECK(std::string(isa_name(Isa::avx512)) == "avx512");
  CHECK(std::string(isa_name(Isa::avx2)) == "avx2");
  CHECK(std::string(isa_name(Isa::baseline)) == "baseline");
  std::printf("isa_test: this CPU's best path: %s\n", isa_name(best));
  return check::finish("isa_test");
}
