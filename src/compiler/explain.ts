/** `mtc explain CODE`: a longer explanation of every diagnostic code, with an example that triggers it and its fix. */
import { DIAGNOSTIC_CODES, type DiagnosticCode } from './diagnostics.js';

export interface Explanation {
  /** What the code means and why it matters. */
  text: string;
  /** A small program (or command) that triggers it. */
  example: string;
  /** The same, fixed (absent when the fix is prose only). */
  fix?: string;
}

const DS = 'dataset liver { root "Dataset003_Liver" cases 131 classes { liver [1, 2] } }';

export const EXPLANATIONS: Record<DiagnosticCode, Explanation> = {
  MT0001: { text: 'The file named on the command line cannot be read: it does not exist, is a folder, or is not readable. Paths are relative to the current folder.', example: 'mtc check experiments/quickstrt.mt', fix: 'mtc check experiments/quickstart.mt' },
  MT0002: { text: 'An import names a file that does not exist. Relative imports are resolved from the importing file\'s folder (".mt" may be left out); "std/..." imports name modules of the stdlib/ folder, which may have sub-folders (std/datasets/msd).', example: 'import "std/datasets/msdd"', fix: 'import "std/datasets/msd"' },
  MT0003: { text: 'Two or more files import each other. Imports are never followed around a cycle; the declarations both need belong in a third file that both import.', example: '// a.mt\nimport "b.mt"\n// b.mt\nimport "a.mt"', fix: '// a.mt and b.mt\nimport "common.mt"' },
  MT0004: { text: 'The file contains NUL bytes or is not valid UTF-8, so it is not an .mt source file.', example: 'mtc check data/case_0000.nii.gz', fix: 'mtc check experiments/quickstart.mt' },
  MT0005: { text: 'The file holds nothing but white space and comments (a warning).', example: '// TODO', fix: `${DS}` },
  MT0006: { text: 'A --set override is malformed or names nothing: it must read PATH=VALUE, where PATH is FIELD (a field of the main experiment), DECLARATION.FIELD or DECLARATION.BLOCK.FIELD, and VALUE is written as in a .mt file. The value is then type-checked like source.', example: 'mtc compile experiments/quickstart.mt --set batch', fix: 'mtc compile experiments/quickstart.mt --set batch=4 --set short_pretrain.epochs=2' },
  MT0101: { text: 'A character that the language does not use. Fields are written `name value` (no `=`, no `;`).', example: 'experiment e { batch = 2 }', fix: 'experiment e { batch 2 }' },
  MT0102: { text: 'A string is missing its closing quote on the same line, or a /* comment its closing */.', example: 'dataset d { root "Dataset003_Liver }', fix: 'dataset d { root "Dataset003_Liver" }' },
  MT0103: { text: 'A token that cannot appear here: the parser says what it expected. Parsing recovers and continues, so later errors are reported too.', example: 'architecture a { patch [32, 32 32] }', fix: 'architecture a { patch [32, 32, 32] }' },
  MT0104: { text: 'A block\'s closing } is missing. The message names the block and where it opened; the error points where the next declaration starts.', example: 'dataset liver {\n  root "Dataset003_Liver"\n\nexperiment e { ... }', fix: 'dataset liver {\n  root "Dataset003_Liver"\n}' },
  MT0105: { text: 'Keywords (declaration kinds and field names, `extends`, `true`, `false`) cannot name a declaration.', example: 'schedule epochs { epochs 10 }', fix: 'schedule short { epochs 10 }' },
  MT0106: { text: 'A field, list item or argument has no value.', example: 'schedule s { epochs }', fix: 'schedule s { epochs 10 }' },
  MT0107: { text: 'Brackets, parentheses and blocks nest more than 64 levels deep (all three counted together). The parser works one level at a time, so it stops there: the too-deep part is skipped and reported once, and the rest of the file is still checked. Real values nest a few levels at most.', example: 'architecture a { patch [[[[[[[[ ... 100 levels ... ]]]]]]]] }', fix: 'architecture a { patch [32, 32, 32] }' },
  MT0201: { text: 'A name that is not declared (with the closest declared name of the expected kind as a suggestion): a dataset, architecture, schedule, class (dataset.class), label name or tag.', example: `${DS}\nexperiment e { datasets [livr] ... }`, fix: 'experiment e { datasets [liver] ... }' },
  MT0202: { text: 'Two declarations share a name. All declarations of a program (every imported file, every family expansion) share one namespace, whatever their kind.', example: 'schedule short { epochs 10 }\narchitecture short { patch [32, 32, 32] }', fix: 'schedule short { epochs 10 }\narchitecture small { patch [32, 32, 32] }' },
  MT0203: { text: 'A field that the block does not have. The hint suggests the closest field, or the block where the field belongs.', example: 'experiment e { bacth 2 }', fix: 'experiment e { batch 2 }' },
  MT0204: { text: 'A declaration kind that does not exist. Kinds: dataset, classset, architecture, schedule, sampling, augmentation, experiment, family.', example: 'datset liver { ... }', fix: 'dataset liver { ... }' },
  MT0205: { text: 'A field given twice in one block (only `phase` and `exclude` repeat).', example: 'schedule s { epochs 10  epochs 20 }', fix: 'schedule s { epochs 20 }' },
  MT0206: { text: 'A duplicate entry: a class declared twice, a label listed twice in a class, a label value given two names, a dataset or fold listed twice.', example: 'experiment e { datasets [liver, spleen, liver] }', fix: 'experiment e { datasets [liver, spleen] }' },
  MT0207: { text: 'The experiment asked for with -e/--experiment is not declared by the file or its imports (a family\'s experiments are named FAMILY_VALUE_..._foldN).', example: 'mtc compile experiments/quickstart.mt -e quickstrt', fix: 'mtc compile experiments/quickstart.mt -e quickstart' },
  MT0208: { text: 'A name declared in a file that the referring file does not import (directly or through its imports).', example: '// a.mt uses dataset liver declared in main.mt, which a.mt does not import', fix: 'import "main.mt"   // or move the dataset into a shared file' },
  MT0209: { text: 'A declaration without a name.', example: 'schedule { epochs 3 }', fix: 'schedule short { epochs 3 }' },
  MT0210: { text: 'An import of the entry file from which nothing is used (a warning). Library files (no experiment or family) are not judged: they exist to be imported.', example: 'import "std/schedules"\nexperiment e { ... schedule my_own ... }', fix: '// remove the import' },
  MT0211: { text: 'A dataset, class set, architecture, schedule, sampling or augmentation declared in the entry file that no experiment uses (a warning; library files are not judged).', example: `${DS}\nexperiment e { datasets [spleen] ... }`, fix: '// remove dataset liver, or use it' },
  MT0301: { text: 'A value of the wrong type: a string where a number is expected, a number where a list is expected, a block where a value belongs.', example: 'schedule s { iterations "250" }', fix: 'schedule s { iterations 250 }' },
  MT0302: { text: 'A name of the wrong kind of declaration, e.g. a schedule where an architecture is expected.', example: 'experiment e { architecture nnunet_default }', fix: 'experiment e { architecture multitalent_unet }' },
  MT0303: { text: 'A value out of its range: batch < 1, a probability or fraction outside [0, 1], a fold above 4, a range whose low end is above its high end, an empty list where one item is needed.', example: 'experiment e { foreground 1.5 }', fix: 'experiment e { foreground 0.33 }' },
  MT0304: { text: 'A required field is missing (a dataset\'s root or classes, an architecture\'s patch, an experiment\'s datasets, schedule, architecture or spacing), or a family varies nothing.', example: 'dataset liver { classes { liver [1] } }', fix: 'dataset liver { root "Dataset003_Liver"  classes { liver [1] } }' },
  MT0305: { text: 'A patch axis is not divisible by the product of its strides (the network\'s total stride on that axis): the message says which stride, and whether it was derived from patch and spacing. SwinUNETR needs multiples of 32.', example: 'architecture a { patch [36, 32, 32] features [8, 16, 32, 64] }', fix: 'architecture a { patch [32, 32, 32] features [8, 16, 32, 64] }' },
  MT0306: { text: 'Per-stage lists disagree (features, strides, kernels, blocks, stages), or the first stride is not [1, 1, 1].', example: 'architecture a { patch [32, 32, 32] features [8, 16, 32, 64] strides [[1, 1, 1], [2, 2, 2]] }', fix: 'architecture a { patch [32, 32, 32] features [8, 16, 32, 64] }   // strides derived' },
  MT0307: { text: 'A schedule\'s phases do not fit its epochs: they exceed it, do not add up to it, leave nothing for `rest`, or two phases take the rest.', example: 'schedule s { epochs 10  phase heads { epochs 4 }  phase all { epochs 8 } }', fix: 'schedule s { epochs 10  phase heads { epochs 4 }  phase all { epochs rest } }' },
  MT0308: { text: 'An option word that is not one of the allowed ones (sampling, kind, loss, precision, metric, axis, ...), with did-you-mean.', example: 'experiment e { sampling inverse_sqr }', fix: 'experiment e { sampling inverse_sqrt }' },
  MT0309: { text: 'Bad call arguments: unknown, repeated, missing or too many; a positional argument after a named one; an empty each(...) or tagged(...).', example: 'schedule s { lr poly(0.01, 0.9, 3) }', fix: 'schedule s { lr poly(0.01, 0.9) }' },
  MT0310: { text: 'A label value that cannot be one: 0 (the background) in a class, not a whole number, or above 255.', example: 'dataset d { ... classes { liver [0, 1] } }', fix: 'dataset d { ... classes { liver [1] } }' },
  MT0311: { text: 'A field that is valid in general but not here: a dataset seed without synthetic, tags before any class, a block where a value belongs, each(...) outside a family, extends on a declaration other than an experiment or family.', example: 'experiment e { folds each(0, 1) }', fix: 'family e_folds extends e { folds each(0, 1) }' },
  MT0312: { text: 'A class region names a label value that the dataset\'s labels block does not declare.', example: 'dataset d { labels { background 0  liver 1 }  classes { tumour [2] } }', fix: 'dataset d { labels { background 0  liver 1  tumour 2 }  classes { tumour [tumour] } }' },
  MT0313: { text: '`exclude` removes a dataset that the experiment (with what it inherits) does not have.', example: 'experiment e2 extends e { exclude [kits] }   // e has no kits', fix: 'experiment e2 extends e { exclude [kits19] }' },
  MT0314: { text: 'The loss does not fit the experiment: dice_ce (nnU-Net\'s softmax Dice + cross-entropy) trains one dataset; several datasets need the multitalent loss.', example: 'experiment e { datasets [liver, spleen]  loss dice_ce ... }', fix: 'experiment e { datasets [liver, spleen]  loss multitalent ... }' },
  MT0315: { text: 'An architecture option that does not apply to its kind: blocks are for resenc_unet, feature_size for swin_unetr, SwinUNETR has fixed strides and no deep supervision.', example: 'architecture a { kind unet  patch [32, 32, 32]  blocks [1, 2, 3, 4] }', fix: 'architecture a { kind resenc_unet  patch [32, 32, 32]  blocks [1, 2, 3, 4] }' },
  MT0401: { text: 'mtc compile/run needs an experiment: the entry file declares none (and none was named with -e).', example: 'mtc compile stdlib/schedules.mt', fix: 'mtc compile experiments/quickstart.mt' },
  MT0402: { text: 'A fine-tune experiment gives a spacing different from the experiment it builds on; fine-tuning keeps the source configuration.', example: 'experiment ft { pretrained pre  spacing [2, 2, 2] ... }   // pre uses [1.5, 1, 1]', fix: 'experiment ft { pretrained pre ... }' },
  MT0403: { text: 'Pre-training loops: experiments name each other (or themselves) as pretrained.', example: 'experiment a { pretrained b ... }\nexperiment b { pretrained a ... }', fix: 'experiment a { ... }   // trains from scratch\nexperiment b { pretrained a ... }' },
  MT0404: { text: 'Fine-tuning leakage: a fine-tune experiment\'s datasets were used to pre-train the network it starts from, so its evaluation would be optimistic. MultiTalent excludes transfer targets from pre-training. An error unless the experiment says allow_leakage true.', example: 'experiment ft { pretrained md_unet  datasets [kits19] ... }', fix: 'experiment pre extends md_unet { exclude [kits19] }\nexperiment ft { pretrained pre  datasets [kits19] ... }' },
  MT0405: { text: 'A fine-tune experiment names an architecture (or patch) that differs from the pre-trained network\'s; the backbone is copied by name and shape.', example: 'experiment ft { pretrained pre  architecture other_unet ... }', fix: 'experiment ft { pretrained pre ... }' },
  MT0406: { text: 'Some datasets of an experiment declare `cases`, others do not, so the sampling shares shown in the graph treat all as equally large (a warning; the runtime recounts from the data).', example: 'dataset a { ... cases 10 ... }\ndataset b { ... }   // no cases', fix: 'dataset b { ... cases 20 ... }' },
  MT0407: { text: 'An inheritance cycle: experiments extend each other, or class sets include each other.', example: 'experiment a extends b { }\nexperiment b extends a { }', fix: 'experiment a { ... }\nexperiment b extends a { }' },
  MT0408: { text: 'Fine-tune targets name classes of datasets that the experiment does not train on.', example: 'experiment ft { datasets [amos]  targets [btcv.liver] ... }', fix: 'experiment ft { datasets [amos]  targets [amos.liver] ... }' },
  MT0901: { text: 'The compiler produced a graph that failed its own validation. This is a bug in mtc; please report it with the .mt file.', example: '(no example: this should never happen)' },
};

/** The text `mtc explain CODE` prints, or null for an unknown code. Codes are matched case-insensitively, `MT` optional. */
export function explain(code: string): string | null {
  const normal = code.trim().toUpperCase().replace(/^(?!MT)/, 'MT');
  if (!(normal in DIAGNOSTIC_CODES)) return null;
  const c = normal as DiagnosticCode;
  const e = EXPLANATIONS[c];
  const indent = (s: string) => s.split('\n').map((l) => `    ${l}`).join('\n');
  return [`${c}: ${DIAGNOSTIC_CODES[c]}`, '', e.text, '', 'Example:', '', indent(e.example), ...(e.fix ? ['', 'Fixed:', '', indent(e.fix)] : []), ''].join('\n');
}
