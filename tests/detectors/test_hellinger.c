/* hellinger against a numpy/scipy implementation over numpy histograms
 * (tests/oracle/gen_hellinger.py -> data/hellinger.json), through the suite shared by the
 * binned detectors (binned_suite.h). */
#define BINNED_NAME          "hellinger"
#define BINNED_SCORE_KEY     "score"
#define BINNED_EMPTY_DEFAULT 2 /* none */
#define BINNED_HAS_NONE      1

#include "binned_suite.h"
