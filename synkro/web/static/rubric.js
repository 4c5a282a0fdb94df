// The rubric editor, progressive enhancement: the total of the weights follows every keystroke,
// and "add a criterion" appends an empty row in place (without JavaScript the same button is a
// submit and the server adds the row). Validation stays on the server.
(() => {
  const form = document.querySelector(".rubric-form");
  if (!form) return;
  const rows = form.querySelector("[data-testid=rubric-rows]");
  const total = form.querySelector("[data-testid=rubric-total]");
  const template = document.getElementById("rubric-row-template");

  const update = () => {
    let sum = 0;
    rows.querySelectorAll("input[name=weight]").forEach((input) => {
      const value = Number.parseInt(input.value, 10);
      if (Number.isFinite(value)) sum += value;
    });
    total.textContent = String(sum);
    total.classList.toggle("good", sum === 100);
    total.classList.toggle("bad", sum !== 100);
  };

  form.addEventListener("input", (event) => {
    if (event.target.name === "weight") update();
  });
  form.querySelector("[data-testid=rubric-add]").addEventListener("click", (event) => {
    event.preventDefault();
    const row = template.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    row.querySelector("input[name=key]").focus();
    update();
  });
  update();
})();
