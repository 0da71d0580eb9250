export { explainRequest, renderExplanation, type ExplainRequest, type ExplainResult } from './explain.js';
export { explainFile } from './offline.js';
