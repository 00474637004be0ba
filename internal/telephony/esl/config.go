package esl

const defaultExtensionPattern = `^[0-9]{2,6}$`
