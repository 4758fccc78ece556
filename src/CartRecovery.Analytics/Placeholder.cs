class Placeholder;
