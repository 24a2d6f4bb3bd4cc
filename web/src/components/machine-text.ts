/**
 * The props of a field that takes a machine value (a slug, an id, a field or header name, JSON):
 * a phone's keyboard must not capitalise its first letter ("Rec_…", "Order_id"), "correct" it into
 * a word, or turn its straight quotes into curly ones that JSON refuses.
 */
export const MACHINE_TEXT = { autoCapitalize: 'none', autoCorrect: 'off', spellCheck: false } as const;
