/* psi against an independent numpy implementation (tests/oracle/gen_psi.py -> data/psi.json),
 * through the suite shared by the binned detectors (binned_suite.h): psi to 1e-12 relative,
 * edges bitwise, bin counts exactly; error cases, merge laws, snapshot round trips and hostile
 * snapshots. */
#define BINNED_NAME          "psi"
#define BINNED_SCORE_KEY     "psi"
#define BINNED_EMPTY_DEFAULT 0 /* epsilon */
#define BINNED_HAS_NONE      0

#include "binned_suite.h"
