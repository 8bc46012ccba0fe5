#pragma once
// PosteriorElements: per vertebra of a labelled SpineModel, measures its own
// axes, the superior and inferior articular processes, the transverse-process
// roots and the grooves the medial branches run in, from the label map.
//
// Everything is measured in the vertebra's axes (VertebraAxes) relative to
// the canal centre beside it, so the same rules hold for prone and supine
// scans and for tilted vertebrae:
// - the pillar of the superior articular process (SAP) is the bone lateral
//   to the canal 5-14 mm above the pedicle's axis; its lateral surface is the
//   medial wall of the medial-branch groove;
// - the transverse process (TP) is the bone lateral to that wall at the
//   pedicle's height; its axis gives the groove's depth and height;
// - a thoracic TP's superolateral corner is measured along its last 10 mm.
#include "imaging/segmentation/spine_model.h"

namespace fluoroplan {

// Fills axes, articular processes, transverse roots and grooves of every
// vertebra in `model` from model.labels, the canal centreline and the
// landmarks segmentSpine found (body centroid, endplates, pedicles).
void measurePosteriorElements(SpineModel& model);

} // namespace fluoroplan
