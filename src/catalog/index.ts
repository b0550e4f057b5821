/** Catalog maintenance: pinned refs (update), constraint edits, lint. */
export { parseAnnotation, refSourceOf, annotationAbove, FULL_SHA_RE, type Annotation, type RefSource } from './annotations.js';
export { readDockerfile, stagesOf, argPairs, expandVars, type DockerfileDoc, type DockerfileInstruction } from './dockerfile.js';
export { catalogFiles, writeFileAtomic, rfc3339Now } from './files.js';
export { scanRefs, type PinnedRef, type RefScan } from './refs.js';
export { updateRefs, resolveRemoteRef, bumpHeader, needsUpdate, type UpdateOptions, type UpdateResult, type RefStatus, type RefState } from './update.js';
export {
  normalizeName,
  requirementName,
  parseConstraints,
  parseEdits,
  applyEdits,
  requestedNames,
  unpinned,
  type ConstraintEdit,
  type ApplyResult,
  type Lowering,
} from './constraints.js';
export { editsFromDockerfile } from './constraints-dockerfile.js';
export { parseSedScript, runSed, posixToJs, type SedCommand } from './sed.js';
export { compareVersions } from './version.js';
export { lintPath } from './lint-tree.js';
export { lintDockerfile, lintBakeFile, formatFinding, isBuildTool, LINT_RULES, type Finding, type LintRule, type LintOptions } from './lint.js';
