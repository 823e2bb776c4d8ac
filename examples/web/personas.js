// The named-persona picker: the personas `make dev` seeded (or ?persona=), and for the one picked, an input for
// each variable a visitor may fill in (docs/personas.md). `ui` and `config` are main.js's.

function showVariables(ui, config) {
  const persona = config.personas.find((p) => p.name === ui.persona.value);
  const variables = persona && persona.variables ? Object.entries(persona.variables) : [];
  ui.variables.querySelectorAll('label, input, select').forEach((element) => element.remove());
  for (const [name, rule] of variables) {
    const id = `variable-${name}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = name;
    let input;
    if (Array.isArray(rule.enum)) {
      input = document.createElement('select');
      for (const value of ['', ...rule.enum]) {
        input.append(new Option(value || '(none)', value));
      }
    } else {
      input = document.createElement('input');
      input.type = 'text';
      if (rule.maxChars) input.maxLength = rule.maxChars;
    }
    input.id = id;
    input.dataset.variable = name;
    ui.variables.append(label, input);
  }
  ui.variables.hidden = variables.length === 0;
  const takesPrompt = !persona || persona.prompt !== false;
  ui.prompt.disabled = !takesPrompt;
  ui.prompt.placeholder = takesPrompt ? 'e.g. Answer in French.' : 'This persona takes no prompt.';
}

export function showPersonas(ui, config) {
  const names = config.personas.map((p) => p.name);
  if (config.persona && !names.includes(config.persona)) {
    names.push(config.persona); // asked for by ?persona=, even if this page was not told about it
  }
  if (!names.length) {
    return;
  }
  ui.persona.append(new Option('(default persona)', ''));
  for (const name of names) {
    ui.persona.append(new Option(name, name));
  }
  ui.persona.value = config.persona;
  ui.personaField.hidden = false;
  ui.persona.addEventListener('change', () => showVariables(ui, config));
  showVariables(ui, config);
}
