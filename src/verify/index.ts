/** Checks on built images: what they run, load and carry (see image.ts). */
export { verifyImage, formatReport, parseChecks, CHECKS, ALLOW_LABEL, type CheckName, type Finding, type VerifyReport, type VerifyOptions } from './image.js';
export { missingLibraries, readElfHeader, dynamicSections, ldSoConfDirs } from './elf.js';
export { consoleScripts, findVenvs } from './python.js';
export { verifyStep } from './step.js';
