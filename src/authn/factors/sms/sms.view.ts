import { otpChallengeView } from '../../one-time-codes/otp.view.js';

export const challengeView = otpChallengeView('sms', 'Text a code to', 'Enter the 6-digit code we texted to');
