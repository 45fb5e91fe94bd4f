// Strengths as the control API describes them (mildest first): the choices of a <select>, the
// words under it that say what the chosen one costs and buys, and older names mapped.

/** The current name of a strength value, which may be an older one (`medium`). */
export function strengthName(value, strengths) {
  const found = strengths.find((strength) => strength.name === value || strength.replaces.includes(value));
  return found ? found.name : value;
}

/** Fill `select` with the strengths and choose `value`; `hint` says what it costs and buys. */
export function showStrengths(select, hint, strengths, value) {
  const name = strengthName(value, strengths);
  const known = strengths.length ? strengths : [{ name, description: "", replaces: [] }];
  select.replaceChildren(
    ...known.map((strength) => {
      const option = new Option(strength.name, strength.name, false, strength.name === name);
      option.title = strength.description;
      return option;
    }),
  );
  select.value = name;
  const chosen = known.find((strength) => strength.name === select.value);
  hint.textContent = chosen && chosen.description ? `${chosen.name}: ${chosen.description}.` : "";
}
