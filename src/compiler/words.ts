/** Small wording helpers for messages: articles and plurals. */

/** "a schedule", "an experiment", "an augmentation profile". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

/** "1 error", "2 errors"; `many` for irregular plurals ("1 class", "3 classes"). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
